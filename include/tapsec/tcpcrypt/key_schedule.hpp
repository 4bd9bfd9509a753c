// tcpcrypt's key schedule (RFC 8548 3.3-3.5), over any provider's HKDF-SHA256:
//
//   CPRF(K, CONST, L) = HKDF-Expand(K, CONST, L)
//   PRK     = HKDF-Extract(N_A, eno_transcript | Init1 | Init2 | ES)
//   ss[0]   = PRK,  ss[i] = CPRF(ss[i-1], CONST_NEXTK, K_LEN)      the session-secret ladder
//   SID[i]  = CPRF(ss[i], CONST_SESSID, K_LEN)                     session ID (after the TEP byte)
//   mk[0]   = CPRF(ss[i], CONST_REKEY, K_LEN),  mk[j] = CPRF(mk[j-1], CONST_REKEY, K_LEN)
//   k_ab[j] = CPRF(mk[j], CONST_KEY_A, ae_keylen),  k_ba[j] = CPRF(mk[j], CONST_KEY_B, ae_keylen)
//   resume[i] = CPRF(ss[i], CONST_RESUME, 18): role A's identifier is its first 9 bytes,
//               role B's the last 9
#pragma once

#include <array>
#include <cstdint>

#include "../core/bytes.hpp"
#include "../crypto/provider.hpp"

namespace tapsec::tcpcrypt {

enum Const : std::uint8_t {
    const_nextk = 0x01,
    const_sessid = 0x02,
    const_rekey = 0x03,
    const_key_a = 0x04,
    const_key_b = 0x05,
    const_resume = 0x06,
};

inline constexpr std::size_t resume_id_size = 9;
using ResumeId = std::array<std::uint8_t, resume_id_size>;

template <class Crypto>
struct KeySchedule {
    static constexpr auto sha256 = crypto::HashAlgorithm::sha256;

    static SecretBytes cprf(ByteView key, Const c, std::size_t length) {
        const std::uint8_t info = c;
        return Crypto::hkdf_expand(sha256, key, ByteView(&info, 1), length);
    }
    /// PRK, which is ss[0].
    static SecretBytes prk(ByteView n_a, ByteView eno_transcript, ByteView init1, ByteView init2, ByteView es) {
        SecretBytes ikm;
        ikm.reserve(eno_transcript.size() + init1.size() + init2.size() + es.size());
        ikm.insert(ikm.end(), eno_transcript.begin(), eno_transcript.end());
        ikm.insert(ikm.end(), init1.begin(), init1.end());
        ikm.insert(ikm.end(), init2.begin(), init2.end());
        ikm.insert(ikm.end(), es.begin(), es.end());
        return Crypto::hkdf_extract(sha256, n_a, ikm);
    }
    static SecretBytes next_session_secret(ByteView ss) { return cprf(ss, const_nextk, 32); }
    static Bytes session_id(ByteView ss) {
        auto sid = cprf(ss, const_sessid, 32);
        return Bytes(sid.begin(), sid.end());
    }
    static SecretBytes first_master_key(ByteView ss) { return cprf(ss, const_rekey, 32); }
    static SecretBytes next_master_key(ByteView mk) { return cprf(mk, const_rekey, 32); }
    static SecretBytes key_ab(ByteView mk, std::size_t length) { return cprf(mk, const_key_a, length); }
    static SecretBytes key_ba(ByteView mk, std::size_t length) { return cprf(mk, const_key_b, length); }
    /// {role A's identifier, role B's identifier} for resuming with ss.
    static std::pair<ResumeId, ResumeId> resume_ids(ByteView ss) {
        auto r = cprf(ss, const_resume, 2 * resume_id_size);
        std::pair<ResumeId, ResumeId> ids;
        std::copy_n(r.begin(), resume_id_size, ids.first.begin());
        std::copy_n(r.begin() + resume_id_size, resume_id_size, ids.second.begin());
        return ids;
    }
};

}  // namespace tapsec::tcpcrypt
