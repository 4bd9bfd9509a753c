// tapsec::compiled: the TLS 1.3 engine for the default provider (see
// core/compiled_engine.hpp). Built with TAPSEC_SEPARATE_COMPILATION like its users.
#include <tapsec/tls13.hpp>

#include <tapsec/core/compiled_engine_impl.hpp>
#include <tapsec/crypto/botan.hpp>
#include <tapsec/tls13/engine.hpp>

TAPSEC_COMPILED_COMPOSITION(tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::Tcp, tapsec::crypto::Botan2);
