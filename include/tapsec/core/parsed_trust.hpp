// A configuration's trust store parsed once (Crypto::TrustAnchors, for providers that
// have it) and shared, immutable, by every copy of that configuration and so by every
// connection or engine made from it: parsing the CA file per handshake costs more than
// verifying the CA's signature. Freed with the last copy; never process-wide (Botan
// objects must not outlive Botan's allocator at exit).
#pragma once

#include <memory>
#include <mutex>
#include <string_view>

#include "config.hpp"
#include "errors.hpp"

namespace tapsec {

struct ParsedTrustSlot {
    std::mutex mutex;
    std::string_view provider;            // Crypto::name of the parsed anchors
    TrustStore source;                    // what was parsed (public certificates only)
    std::shared_ptr<const void> anchors;  // a Crypto::TrustAnchors
};

/// The anchors for `trust`, parsed on first use and again only when the trust store (or
/// the provider) changed since. Safe to call from several threads.
template <class P>
Result<std::shared_ptr<const typename P::TrustAnchors>> parsed_trust_anchors(ParsedTrustSlot& slot, const TrustStore& trust) {
    using Anchors = typename P::TrustAnchors;
    std::lock_guard lock(slot.mutex);
    if (slot.anchors && slot.provider == P::name && slot.source.ca_certificates_pem == trust.ca_certificates_pem &&
        slot.source.use_system_store == trust.use_system_store)
        return std::static_pointer_cast<const Anchors>(slot.anchors);
    auto loaded = Anchors::load(trust);
    if (!loaded) return loaded.error();
    auto anchors = std::make_shared<const Anchors>(std::move(*loaded));
    slot.provider = P::name;
    slot.source = trust;
    slot.anchors = anchors;
    return std::shared_ptr<const Anchors>(anchors);
}

}  // namespace tapsec
