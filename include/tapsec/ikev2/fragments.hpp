// IKE fragment reassembly (RFC 7383 2.6): the authenticated pieces of one message, put
// back together once all of them are here, in any order. One message at a time (IKE's
// window is one request each way); a fragment of a newer message starts over. What is
// refused, each with its own code: numbers out of range or a Next Payload field that
// breaks 2.5 (invalid_fragment), more fragments or octets than the limits
// (fragment_limit_exceeded: what was held is discarded), fewer Total Fragments than
// those already held (fragment_superseded: the sender shrank its fragments, this one
// is from before). A copy of a fragment already held is ignored (and counted); one
// with more Total Fragments than those held discards them and starts over (2.6: the
// sender retransmits with smaller fragments).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "../core/bytes.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::ikev2 {

struct FragmentLimits {
    std::size_t max_fragments = 64;           // Total Fragments above this is refused outright
    std::size_t max_message = 64 * 1024;      // octets of reassembled inner chain
};

class FragmentReassembly {
public:
    /// A whole inner chain: its first payload's type (fragment 1's Next Payload) and octets.
    struct Reassembled {
        PayloadType first_inner = PayloadType::none;
        Bytes chain;
    };

    /// Adds fragment `numbers` of message `message_id`, already authenticated, with its
    /// Next Payload field and decrypted piece. Returns the whole chain when this one
    /// completes it, nullopt while pieces are missing (or this one was a copy).
    Result<std::optional<Reassembled>> add(std::uint32_t message_id, FragmentNumbers numbers, PayloadType next,
                                           ByteView part, const FragmentLimits& limits) {
        if (numbers.number == 0 || numbers.total == 0 || numbers.number > numbers.total ||
            (numbers.number == 1) != (next != PayloadType::none))
            return make_error_code(Error::invalid_fragment);
        if (numbers.total > limits.max_fragments) return make_error_code(Error::fragment_limit_exceeded);
        if (!message_id_ || *message_id_ != message_id) start(message_id, numbers.total);
        if (numbers.total < total_) return make_error_code(Error::fragment_superseded);
        if (numbers.total > total_) start(message_id, numbers.total);
        auto& slot = parts_[numbers.number - 1u];
        if (slot) {
            ++duplicates_;
            return std::optional<Reassembled>{};
        }
        if (octets_ + part.size() > limits.max_message) {
            clear();
            return make_error_code(Error::fragment_limit_exceeded);
        }
        slot.emplace(part.begin(), part.end());
        octets_ += part.size();
        if (numbers.number == 1) first_inner_ = next;
        if (++held_ < total_) return std::optional<Reassembled>{};
        Reassembled whole;
        whole.first_inner = first_inner_;
        whole.chain.reserve(octets_);
        for (const auto& p : parts_) append(whole.chain, *p);
        clear();
        return std::optional<Reassembled>{std::move(whole)};
    }

    /// Forgets what is held (a new IKE SA, a message answered).
    void clear() {
        for (auto& p : parts_)
            if (p) secure_zero(p->data(), p->size());
        parts_.clear();
        message_id_.reset();
        total_ = 0;
        held_ = 0;
        octets_ = 0;
        first_inner_ = PayloadType::none;
    }

    std::size_t held() const { return held_; }
    std::uint64_t duplicates() const { return duplicates_; }

private:
    void start(std::uint32_t message_id, std::uint16_t total) {
        clear();
        message_id_ = message_id;
        total_ = total;
        parts_.resize(total);
    }

    std::optional<std::uint32_t> message_id_;
    std::uint16_t total_ = 0;
    std::vector<std::optional<Bytes>> parts_;  // fragment n at n - 1
    std::size_t held_ = 0, octets_ = 0;
    PayloadType first_inner_ = PayloadType::none;
    std::uint64_t duplicates_ = 0;
};

}  // namespace tapsec::ikev2
