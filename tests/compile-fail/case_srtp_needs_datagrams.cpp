// Survey 4.x.3: SRTP runs over an unreliable datagram service; over a byte stream the
// composition is rejected with one line naming the missing dependency.
// expect: tapsec: this record protocol needs a datagram transport (survey 4.x.3), but the transport is a byte stream
#include <tapsec/core/secure.hpp>
#include <tapsec/srtp/record.hpp>
#include <tapsec/transport/tcp.hpp>
#include <tapsec/transport/udp.hpp>

#include "../support/declared_engine.hpp"

struct MasterKeyHandshake {
    static constexpr std::string_view name = "fixture SRTP-keying handshake";
    using provides = tapsec::features<tapsec::feature::mutual_authentication>;
    static constexpr tapsec::KeyExport key_export = tapsec::KeyExport::explicit_export;
    using exported_keys = tapsec::srtp::MasterKeys;
    using Config = tapsec::CommonConfig;
    template <class R, class C>
    using engine = tapsec::test::DeclaredOnlyEngine;
};

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<MasterKeyHandshake, tapsec::SrtpRecord, tapsec::Tcp>;
#else
using Composition = tapsec::Secure<MasterKeyHandshake, tapsec::SrtpRecord, tapsec::Udp>;
#endif
static_assert(Composition::has<tapsec::feature::replay_protection>);
