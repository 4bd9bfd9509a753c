// EAP in IKE_AUTH (RFC 7296 2.16, RFC 3748): the application supplies the method, the
// engine carries its packets in EAP payloads and finishes with the AUTH computed from the
// method's MSK (or SK_pi/SK_pr when the method yields none, as EAP-MD5).
//
//   PeerMethod    the initiator's side of one method: answers the server's requests
//   ServerMethod  the responder's side: issues requests, judges the responses
//   PeerSession / ServerSession  the generic EAP layer around a method (Identity,
//                 Notification, Nak, codes, identifiers, round limits)
//
// A method is a plug-in: eap_md5.hpp has EAP-MD5-Challenge (RFC 3748 5.4), both sides,
// on a crypto provider. This header has no crypto: the methods bring their own.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "errors.hpp"

namespace tapsec::ikev2::eap {

enum class Code : std::uint8_t { request = 1, response = 2, success = 3, failure = 4 };
namespace type {
inline constexpr std::uint8_t identity = 1, notification = 2, nak = 3, md5_challenge = 4;
}
/// Larger EAP messages are refused (RFC 3748 3.1 expects a 1020-octet MTU; this leaves
/// room for certificate-carrying methods).
inline constexpr std::size_t max_packet_size = 4096;
/// Request/response rounds before either side gives up (a peer that never concludes).
inline constexpr unsigned max_rounds = 16;

struct Packet {
    Code code = Code::request;
    std::uint8_t identifier = 0;
    std::uint8_t type = 0;  // requests and responses only
    Bytes data;             // the Type-Data
};

/// One EAP packet (RFC 3748 4): the Length field must be the payload's size exactly.
inline Result<Packet> decode(ByteView b) {
    const auto malformed = make_error_code(Error::eap_malformed);
    if (b.size() < 4 || b.size() > max_packet_size) return malformed;
    const std::size_t length = std::size_t{b[2]} << 8 | b[3];
    if (length != b.size()) return malformed;
    Packet p;
    if (b[0] < 1 || b[0] > 4) return malformed;
    p.code = static_cast<Code>(b[0]);
    p.identifier = b[1];
    if (p.code == Code::success || p.code == Code::failure) {
        if (length != 4) return malformed;
        return p;
    }
    if (length < 5) return malformed;
    p.type = b[4];
    p.data.assign(b.begin() + 5, b.end());
    return p;
}

inline Bytes encode(const Packet& p) {
    const bool typed = p.code == Code::request || p.code == Code::response;
    const std::size_t length = 4 + (typed ? 1 + p.data.size() : 0);
    Bytes out{static_cast<std::uint8_t>(p.code), p.identifier, static_cast<std::uint8_t>(length >> 8),
              static_cast<std::uint8_t>(length)};
    if (typed) {
        out.push_back(p.type);
        append(out, p.data);
    }
    return out;
}

using Random = std::function<void(MutableByteView)>;

/// The initiator's side of a method.
class PeerMethod {
public:
    virtual ~PeerMethod() = default;
    virtual std::uint8_t type() const = 0;
    /// The EAP identity (the answer to Request/Identity).
    virtual std::string identity() const = 0;
    /// The Type-Data of the response to a request of this method's type; an error ends
    /// the exchange (the request was malformed or asks what the method refuses).
    virtual Result<Bytes> respond(std::uint8_t identifier, ByteView request_data) = 0;
    /// The Master Session Key once the server reported success, if the method makes one.
    virtual std::optional<SecretBytes> msk() const { return std::nullopt; }
};

/// The server's (responder's) side of a method.
class ServerMethod {
public:
    struct Verdict {
        enum class Outcome { success, failure, another_round } outcome = Outcome::failure;
        Bytes next_request;  // Type-Data of the next request (another_round)
    };
    virtual ~ServerMethod() = default;
    virtual std::uint8_t type() const = 0;
    /// The Type-Data of the first request, for the peer that claimed `peer_identity`.
    virtual Result<Bytes> start(const std::string& peer_identity, std::uint8_t identifier, const Random& random) = 0;
    /// Judges the response (Type-Data) to the request with `identifier`.
    virtual Verdict process(std::uint8_t identifier, ByteView response_data, const Random& random) = 0;
    virtual std::optional<SecretBytes> msk() const { return std::nullopt; }
};

/// What an EAP message from the server asks of the peer.
struct PeerStep {
    enum class Kind { respond, success, failure } kind = Kind::failure;
    Bytes response;  // the EAP packet to send (respond)
};

/// The sessions hold their method shared, so an engine stays copyable (a copy continues
/// the same method state; the fuzz targets copy engines).
/// The peer's EAP layer: answers Identity and Notification itself, Naks a method it does
/// not run, hands its own method's requests to the method. Success is accepted only
/// after the method answered at least once (a server cannot skip the method).
class PeerSession {
public:
    explicit PeerSession(std::shared_ptr<PeerMethod> method) : method_(std::move(method)) {}

    Result<PeerStep> on_message(ByteView packet) {
        auto p = decode(packet);
        if (!p) return p.error();
        if (++rounds_ > max_rounds) return make_error_code(Error::eap_malformed);
        switch (p->code) {
            case Code::success:
                if (!method_answered_) return make_error_code(Error::eap_unexpected);
                return PeerStep{PeerStep::Kind::success, {}};
            case Code::failure: return PeerStep{PeerStep::Kind::failure, {}};
            case Code::response: return make_error_code(Error::eap_unexpected);
            case Code::request: break;
        }
        Packet answer{Code::response, p->identifier, p->type, {}};
        if (p->type == type::identity) {
            const std::string id = method_->identity();
            answer.data.assign(id.begin(), id.end());
        } else if (p->type == type::notification) {
            // an empty response acknowledges it (RFC 3748 5.2)
        } else if (p->type == method_->type()) {
            auto data = method_->respond(p->identifier, p->data);
            if (!data) return data.error();
            answer.data = std::move(*data);
            method_answered_ = true;
        } else {
            answer.type = type::nak;  // the one method we run (RFC 3748 5.3.1)
            answer.data = {method_->type()};
        }
        return PeerStep{PeerStep::Kind::respond, encode(answer)};
    }
    std::optional<SecretBytes> msk() const { return method_->msk(); }

private:
    std::shared_ptr<PeerMethod> method_;
    unsigned rounds_ = 0;
    bool method_answered_ = false;
};

struct ServerStep {
    enum class Kind { request, success, failure } kind = Kind::failure;
    Bytes message;  // the EAP packet to send (a request, Success or Failure)
};

/// The server's EAP layer: the first request is the method's (the EAP identity is the
/// IKE identity, RFC 7296 2.16 allows it), responses must answer the last request's
/// identifier with the method's type; a Nak or anything else fails.
class ServerSession {
public:
    ServerSession(std::shared_ptr<ServerMethod> method, Random random)
        : method_(std::move(method)), random_(std::move(random)) {}

    Result<Bytes> start(const std::string& peer_identity) {
        std::array<std::uint8_t, 1> first{};
        random_(first);
        identifier_ = first[0];
        auto data = method_->start(peer_identity, identifier_, random_);
        if (!data) return data.error();
        return encode(Packet{Code::request, identifier_, method_->type(), std::move(*data)});
    }

    /// An error: the response does not parse or does not answer our request (the caller
    /// fails the exchange). Otherwise the next message to send.
    Result<ServerStep> on_message(ByteView packet) {
        auto p = decode(packet);
        if (!p) return p.error();
        if (p->code != Code::response || p->identifier != identifier_) return make_error_code(Error::eap_unexpected);
        if (++rounds_ > max_rounds) return finish(ServerStep::Kind::failure);
        if (p->type != method_->type()) return finish(ServerStep::Kind::failure);  // a Nak: the peer refuses our method
        auto verdict = method_->process(identifier_, p->data, random_);
        switch (verdict.outcome) {
            case ServerMethod::Verdict::Outcome::success: return finish(ServerStep::Kind::success);
            case ServerMethod::Verdict::Outcome::failure: return finish(ServerStep::Kind::failure);
            case ServerMethod::Verdict::Outcome::another_round: break;
        }
        ++identifier_;
        return ServerStep{ServerStep::Kind::request,
                          encode(Packet{Code::request, identifier_, method_->type(), std::move(verdict.next_request)})};
    }
    std::optional<SecretBytes> msk() const { return method_->msk(); }

private:
    ServerStep finish(ServerStep::Kind kind) {
        const Code code = kind == ServerStep::Kind::success ? Code::success : Code::failure;
        return ServerStep{kind, encode(Packet{code, identifier_, 0, {}})};
    }
    std::shared_ptr<ServerMethod> method_;
    Random random_;
    std::uint8_t identifier_ = 0;
    unsigned rounds_ = 0;
};

}  // namespace tapsec::ikev2::eap
