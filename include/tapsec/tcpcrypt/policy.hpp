// The tcpcrypt composition's policies: Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>.
// Survey 4.6: tcpcrypt is negotiated by TCP-ENO (so it needs a transport that carries TCP
// options), authenticates no one by itself and exports a session ID for the application
// to authenticate (authentication delegation), resumes sessions, and rekeys in band.
#pragma once

#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "../tcp_eno/transport.hpp"
#include "config.hpp"
#include "engine.hpp"
#include "record.hpp"

namespace tapsec {

struct TcpcryptHandshake {
    static constexpr std::string_view name = "tcpcrypt key exchange (RFC 8548) negotiated by TCP-ENO (RFC 8547)";
    // AN: TEP (TCP-ENO) and AEAD (Init1/Init2) negotiation. AD: the session ID is the
    // application's to authenticate, always exported (the survey's M). SC: resumption
    // with resumption identifiers and caches on both sides.
    using provides = features<feature::AN, feature::AD, feature::SC, feature::forward_secrecy,
                              feature::session_resumption, feature::rekeying>;
    using intrinsic = features<feature::AD, feature::forward_secrecy>;
    using needs = dependencies<dependency::reliable_byte_stream, dependency::tcp_option_negotiation>;
    // The keys go only to tcpcrypt's own frames; what leaves is the session ID.
    static constexpr KeyExport key_export = KeyExport::direct;
    using exported_keys = tcpcrypt::TrafficKeys;
    using Config = tcpcrypt::Config;
    template <class Record, class Crypto>
    using engine = tcpcrypt::Engine<Record, Crypto>;
};

}  // namespace tapsec
