// Survey 6.3 / 6.1 with the real CurveCP types: CurveCpHandshake's keys are
// non-exportable, so a record that would import curvecp::SessionKeys explicitly (an
// application-keyed record, say) cannot be composed with it; CurveCpRecord itself is
// non-importable and composes only with its own handshake.
// expect: tapsec: the handshake's keys are non-exportable (survey 6.3): only its own record protocol can use them
#include <tapsec/curvecp.hpp>

struct ImportsCurveCpKeys {
    static constexpr std::string_view name = "a record keyed from outside";
    using provides = tapsec::features<tapsec::feature::record_protection>;
    using needs = tapsec::dependencies<tapsec::dependency::datagram>;
    static constexpr tapsec::KeyImport key_import = tapsec::KeyImport::explicit_import;
    using imported_keys = tapsec::curvecp::SessionKeys;
    template <class Crypto>
    using layer = tapsec::curvecp::CurveCpRecordLayer<Crypto>;
};

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::CurveCpHandshake, ImportsCurveCpKeys, tapsec::Udp>;
#else
using Composition = tapsec::Secure<tapsec::CurveCpHandshake, tapsec::CurveCpRecord, tapsec::Udp>;
#endif
static_assert(Composition::has<tapsec::feature::record_protection>);
