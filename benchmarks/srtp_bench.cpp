// SRTP protect + unprotect packets per second, tapsec vs libsrtp2 in the same run,
// at 160 and 1200 bytes of payload, for AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM.
// One iteration = the sender protects one RTP packet in place and the receiver
// verifies and decrypts it (replay list and rollover counter included on both sides).
#include <cstring>
#include <string>

#include <tapsec/tapsec.hpp>

#include "harness.hpp"

#ifdef TAPSEC_HAVE_LIBSRTP2
#include <srtp2/srtp.h>
#endif

namespace {

using namespace tapsec;
using namespace tapsec::srtp;

MasterKeys bench_keys(Profile p) {
    const auto params = parameters(p);
    MasterKeys k;
    k.profile = p;
    for (MasterKey* m : {&k.client_write, &k.server_write}) {
        m->key.assign(params.master_key_length, 0x42);
        m->salt.assign(params.master_salt_length, 0x17);
    }
    return k;
}

Bytes rtp_template(std::size_t payload) {
    Bytes p{0x80, 0x60, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef};
    p.resize(12 + payload, 0xab);
    return p;
}

double tapsec_rate(Profile profile, std::size_t payload) {
    const auto keys = bench_keys(profile);
    auto tx = Session<>::create(keys, Role::client);
    auto rx = Session<>::create(keys, Role::server);
    if (!tx || !rx) return 0;
    const Bytes plain = rtp_template(payload);
    Bytes buffer(plain.size() + max_overhead);
    std::uint16_t seq = 0;
    bool ok = true;
    auto m = bench::measure([&] {
        std::memcpy(buffer.data(), plain.data(), plain.size());
        buffer[2] = static_cast<std::uint8_t>(seq >> 8);
        buffer[3] = static_cast<std::uint8_t>(seq);
        ++seq;
        auto n = tx->protect_rtp(buffer, plain.size());
        auto back = rx->unprotect_rtp(MutableByteView(buffer.data(), *n));
        ok = ok && back.ok();
    });
    return ok ? m.per_second() : 0;
}

#ifdef TAPSEC_HAVE_LIBSRTP2
double libsrtp_rate(Profile profile, std::size_t payload) {
    static const srtp_err_status_t initialised = srtp_init();
    if (initialised != srtp_err_status_ok) return 0;
    const auto keys = bench_keys(profile);
    std::vector<unsigned char> material(keys.client_write.key.begin(), keys.client_write.key.end());
    material.insert(material.end(), keys.client_write.salt.begin(), keys.client_write.salt.end());
    srtp_t tx = nullptr, rx = nullptr;
    for (auto [session, type] : {std::pair{&tx, ssrc_any_outbound}, std::pair{&rx, ssrc_any_inbound}}) {
        srtp_policy_t policy;
        std::memset(&policy, 0, sizeof policy);
        if (profile == Profile::aead_aes_128_gcm) {
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
        } else {
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
        }
        policy.ssrc.type = type;
        policy.key = material.data();
        policy.window_size = 1024;
        if (srtp_create(session, &policy) != srtp_err_status_ok) return 0;
    }
    const Bytes plain = rtp_template(payload);
    Bytes buffer(plain.size() + SRTP_MAX_TRAILER_LEN);
    std::uint16_t seq = 0;
    bool ok = true;
    auto m = bench::measure([&] {
        std::memcpy(buffer.data(), plain.data(), plain.size());
        buffer[2] = static_cast<std::uint8_t>(seq >> 8);
        buffer[3] = static_cast<std::uint8_t>(seq);
        ++seq;
        int len = static_cast<int>(plain.size());
        ok = ok && srtp_protect(tx, buffer.data(), &len) == srtp_err_status_ok;
        ok = ok && srtp_unprotect(rx, buffer.data(), &len) == srtp_err_status_ok;
    });
    srtp_dealloc(tx);
    srtp_dealloc(rx);
    return ok ? m.per_second() : 0;
}
#endif

void run(bench::Report& r) {
    for (Profile profile : {Profile::aes_cm_128_hmac_sha1_80, Profile::aead_aes_128_gcm}) {
        for (std::size_t payload : {std::size_t{160}, std::size_t{1200}}) {
            const std::string label = std::string(parameters(profile).name) + " " + std::to_string(payload) + " B";
            const double ours = tapsec_rate(profile, payload);
            r.value("tapsec " + label, ours, "packets/s", "protect + unprotect");
#ifdef TAPSEC_HAVE_LIBSRTP2
            const double theirs = libsrtp_rate(profile, payload);
            r.value("libsrtp2 " + label, theirs, "packets/s", "protect + unprotect (Debian build, NSS crypto)");
            r.ratio("tapsec/libsrtp2 " + label, ours, theirs, "target >= 1.0");
#endif
        }
    }
}

const bench::Registration registration{bench::Suite{"srtp", "SRTP protect+unprotect vs libsrtp2", run}};

}  // namespace
