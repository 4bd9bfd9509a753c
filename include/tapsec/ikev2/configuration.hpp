// The configuration exchange in IKE_AUTH (RFC 7296 2.19): what each side makes of the
// other's CP payload. Kept apart from the engine so that each refusal can be tested on
// crafted payloads: a CFG_REPLY that answers no request, one with the wrong CFG type or
// malformed attributes, a reply without an address, an address outside our selector.
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "selectors.hpp"
#include "wire.hpp"

namespace tapsec::ikev2 {

/// What the responder gave the initiator in its CFG_REPLY.
struct AssignedConfiguration {
    std::array<std::uint8_t, 4> ip4{};
    std::optional<Bytes> ip6;  // address | prefix length, recorded only (the request asks for IPv4)
    std::vector<std::array<std::uint8_t, 4>> dns;
    TrafficSelector local;  // our selector narrowed to the assigned address
};

/// The attributes an initiator asks for: empty values, "any address" (RFC 7296 2.19).
inline CpPayload address_request() {
    return CpPayload{CfgType::request,
                     {{cp_attribute::internal_ip4_address, {}}, {cp_attribute::internal_ip4_dns, {}}, {cp_attribute::internal_ip6_address, {}}}};
}

/// The selector of exactly one IPv4 address.
inline TrafficSelector single_address(std::uint32_t a) {
    TrafficSelector ts;
    for (std::size_t i = 0; i < 4; ++i) ts.start[i] = ts.end[i] = static_cast<std::uint8_t>(a >> (24 - 8 * i));
    return ts;
}

/// Initiator: the responder's IKE_AUTH answer `inner` after we did (`requested`) or did
/// not send CP(CFG_REQUEST), with `local` the TSi the responder narrowed to. Nothing when
/// neither side spoke CP; the assignment; or why it is refused.
inline Result<std::optional<AssignedConfiguration>> accept_cfg_reply(const std::vector<RawPayload>& inner, bool requested,
                                                                     const TrafficSelector& local) {
    const RawPayload* cp = find(inner, PayloadType::cp);
    if (!cp) {
        if (requested) return make_error_code(Error::internal_address_failure);
        return std::optional<AssignedConfiguration>{};
    }
    auto reply = decode_cp(cp->body);
    if (!reply) return reply.error();
    if (!requested || reply->type != CfgType::reply) return make_error_code(Error::unexpected_configuration_payload);
    auto address = reply->ip4(cp_attribute::internal_ip4_address);
    if (!address) return make_error_code(Error::internal_address_failure);
    // RFC 7296 2.19: our side of the Child SA is the assigned address.
    auto narrowed = intersect(local, single_address(address_of(*address)));
    if (!narrowed) return make_error_code(Error::ts_unacceptable);
    AssignedConfiguration out;
    out.ip4 = *address;
    out.local = *narrowed;
    for (const auto& a : reply->attributes) {
        if (a.type == cp_attribute::internal_ip4_dns && a.value.size() == 4) out.dns.push_back({a.value[0], a.value[1], a.value[2], a.value[3]});
        if (a.type == cp_attribute::internal_ip6_address && a.value.size() == 17 && !out.ip6) out.ip6 = a.value;
    }
    return std::optional<AssignedConfiguration>(std::move(out));
}

/// Responder: the initiator's CP in its first IKE_AUTH request, if any. Only a
/// well-formed CFG_REQUEST is taken.
inline Result<std::optional<CpPayload>> read_cfg_request(const std::vector<RawPayload>& inner) {
    const RawPayload* cp = find(inner, PayloadType::cp);
    if (!cp) return std::optional<CpPayload>{};
    auto request = decode_cp(cp->body);
    if (!request) return request.error();
    if (request->type != CfgType::request) return make_error_code(Error::unexpected_configuration_payload);
    return std::optional<CpPayload>(std::move(*request));
}

}  // namespace tapsec::ikev2
