// EAP-MD5-Challenge (RFC 3748 5.4), both sides, as a plug-in EAP method (eap.hpp) on a
// crypto provider: the response value is MD5(Identifier | secret | challenge) (RFC 1994
// 4.1), hashed by Crypto::hash(HashAlgorithm::md5, ...), the one use the provider seam
// allows MD5 for.
//
// It has no MSK and offers no protection against an active attacker who sees the
// exchange: inside IKEv2 it travels encrypted to a responder authenticated by its
// certificate, which is why RFC 7296 asks the responder of an EAP exchange to sign.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "../core/bytes.hpp"
#include "../crypto/provider.hpp"
#include "eap.hpp"

namespace tapsec::ikev2::eap {

namespace detail {
/// MD5(Identifier | secret | challenge), RFC 1994 4.1 as RFC 3748 5.4 uses it.
template <class Crypto>
std::array<std::uint8_t, 16> md5_challenge_value(std::uint8_t identifier, ByteView secret, ByteView challenge) {
    SecretBytes input;  // zeroized: it holds the secret
    input.reserve(1 + secret.size() + challenge.size());
    input.push_back(identifier);
    input.insert(input.end(), secret.begin(), secret.end());
    input.insert(input.end(), challenge.begin(), challenge.end());
    const Bytes digest = Crypto::hash(crypto::HashAlgorithm::md5, ByteView(input.data(), input.size()));
    std::array<std::uint8_t, 16> out{};
    std::copy_n(digest.begin(), out.size(), out.begin());
    return out;
}
}  // namespace detail

/// The EAP-MD5 server's users: EAP identity -> secret.
using Md5Users = std::map<std::string, SecretBytes>;

/// EAP-MD5-Challenge, the peer: Type-Data is Value-Size | Value | Name.
template <class Crypto>
class Md5Peer final : public PeerMethod {
public:
    Md5Peer(std::string identity, SecretBytes secret) : identity_(std::move(identity)), secret_(std::move(secret)) {}
    std::uint8_t type() const override { return type::md5_challenge; }
    std::string identity() const override { return identity_; }
    Result<Bytes> respond(std::uint8_t identifier, ByteView request) override {
        if (request.empty() || request[0] == 0 || std::size_t{request[0]} + 1 > request.size())
            return make_error_code(Error::eap_malformed);
        const auto value = detail::md5_challenge_value<Crypto>(identifier, secret_, request.subspan(1, request[0]));
        Bytes out{static_cast<std::uint8_t>(value.size())};
        append(out, value);
        return out;
    }

private:
    std::string identity_;
    SecretBytes secret_;
};

/// EAP-MD5-Challenge, the server: a 16-octet random challenge, the user's secret looked
/// up by the EAP identity. An unknown user gets a challenge too and then Failure (the
/// answer does not tell which users exist).
template <class Crypto>
class Md5Server final : public ServerMethod {
public:
    using Users = Md5Users;
    explicit Md5Server(std::shared_ptr<const Users> users) : users_(std::move(users)) {}
    std::uint8_t type() const override { return type::md5_challenge; }
    Result<Bytes> start(const std::string& peer_identity, std::uint8_t, const Random& random) override {
        identity_ = peer_identity;
        random(challenge_);
        Bytes out{static_cast<std::uint8_t>(challenge_.size())};
        append(out, challenge_);
        return out;
    }
    Verdict process(std::uint8_t identifier, ByteView response, const Random&) override {
        Verdict v;
        auto user = users_ ? users_->find(identity_) : Users::const_iterator{};
        if (!users_ || user == users_->end() || response.size() < 17 || response[0] != 16) return v;
        const auto expected = detail::md5_challenge_value<Crypto>(identifier, user->second, challenge_);
        if (constant_time_equal(expected, response.subspan(1, 16))) v.outcome = Verdict::Outcome::success;
        return v;
    }

private:
    std::shared_ptr<const Users> users_;
    std::string identity_;
    std::array<std::uint8_t, 16> challenge_{};
};

}  // namespace tapsec::ikev2::eap
