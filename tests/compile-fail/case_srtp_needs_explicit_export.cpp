// Survey 6.1 / 6.3: SrtpRecord imports srtp::MasterKeys explicitly, so only a handshake
// that exports them explicitly (DTLS-SRTP) can key it; one that hands its keys only to
// its own record cannot.
// expect: tapsec: the record protocol imports keys explicitly, but the handshake only exports directly to its own record (survey 6.3)
#include <tapsec/core/secure.hpp>
#include <tapsec/srtp/record.hpp>
#include <tapsec/transport/udp.hpp>

#include "../support/declared_engine.hpp"

template <tapsec::KeyExport Export>
struct MasterKeyHandshake {
    static constexpr std::string_view name = "fixture SRTP-keying handshake";
    using provides = tapsec::features<tapsec::feature::mutual_authentication>;
    using needs = tapsec::dependencies<tapsec::dependency::datagram>;
    static constexpr tapsec::KeyExport key_export = Export;
    using exported_keys = tapsec::srtp::MasterKeys;
    using Config = tapsec::CommonConfig;
    template <class R, class C>
    using engine = tapsec::test::DeclaredOnlyEngine;
};

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<MasterKeyHandshake<tapsec::KeyExport::direct>, tapsec::SrtpRecord, tapsec::Udp>;
#else
using Composition = tapsec::Secure<MasterKeyHandshake<tapsec::KeyExport::explicit_export>, tapsec::SrtpRecord, tapsec::Udp>;
#endif
static_assert(Composition::has<tapsec::feature::partial_record_confidentiality>);
