// MinimaltRecord, the record policy, and its layer: the tunnel's packet protection.
// Every packet is boxed (crypto_box_afternm = XSalsa20-Poly1305) under the tunnel key,
// the crypto_box_beforenm of the client's ephemeral key C' and the server's directory
// ephemeral key S'. The 24-byte box nonce is the 16-byte constant "minimaLT-packet:"
// and the packet's 8-byte nonce, which counts up per direction (client odd, server
// even), so the two directions never share a nonce under one key.
//
// Rekeying is the paper's hash chain: generation g+1's key is a hash of generation g's
// (K' = SHA-512("minimaLT rekey" || K) cut to 32 bytes) and its tunnel ID is derived
// from K' (so an observer cannot link the two IDs, and a peer that missed the rekey
// still recognises the next one). The sender moves first, keeping the old key only to
// open the peer's packets until the peer follows; the receiver follows on the first
// packet that authenticates under the next generation. Either way the old key is wiped
// as soon as both sides are past it (fast key erasure). The layer is keyed only through
// import(TunnelKeys).
#pragma once

#include <optional>

#include "../core/bytes.hpp"
#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "../core/replay_window.hpp"
#include "../crypto/nacl_box.hpp"
#include "../crypto/provider.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::minimalt {

/// The key interface between the tunnel establishment and the record (6.1 direct
/// import): the crypto_box_beforenm key, the first tunnel ID, and which side we are.
struct TunnelKeys {
    SecretArray<32> box_key;
    std::uint64_t tid = 0;
    bool client = false;
};

inline constexpr std::string_view box_nonce_prefix = "minimaLT-packet:";
static_assert(box_nonce_prefix.size() == 16);

template <class Crypto>
class TunnelRecord {
    struct Generation {
        std::uint32_t number = 0;
        std::uint64_t tid = 0;
        SecretArray<32> key;
        std::optional<crypto::nacl::SecretBox> box;
    };

public:
    /// The record's import of its keys (the only way the tunnel establishment keys it).
    std::error_code import(const TunnelKeys& keys) {
        if ((keys.tid & ~tid_mask) != 0) return make_error_code(Error::invalid_configuration);
        client_ = keys.client;
        current_ = make_generation(0, keys.tid, keys.box_key);
        next_ = successor(current_);
        previous_.reset();
        next_nonce_ = client_ ? 1 : 2;
        replay_.reset();
        peer_at_current_ = true;
        return {};
    }
    bool keyed() const noexcept { return current_.box.has_value(); }

    std::uint64_t tid() const noexcept { return current_.tid; }
    std::uint32_t generation() const noexcept { return current_.number; }
    /// The tunnel ID of the next key generation (the peer's packets switch to it when it rekeys).
    std::uint64_t next_tid() const noexcept { return next_.tid; }
    /// Does a packet with this tunnel ID belong here (current or next generation)?
    bool knows(std::uint64_t tid) const noexcept {
        return keyed() && (tid == current_.tid || tid == next_.tid || (previous_ && tid == previous_->tid));
    }

    /// Would a packet with this nonce be the newest the peer has sent (so far)?
    bool is_newest(std::uint64_t nonce) const noexcept { return replay_.empty() || (nonce >> 1) > replay_.highest(); }

    static constexpr std::size_t overhead(bool with_key, bool with_solution) {
        return header_length(with_key, with_solution) + tag_size;
    }

    /// Seals `payload` into a packet at the front of `out` (header, then box); returns
    /// its size. `client_key` / `solution` go in the clear for a tunnel request.
    Result<std::size_t> seal(ByteView payload, MutableByteView out, const PublicKey* client_key = nullptr,
                             const PuzzleSolution* solution = nullptr) {
        if (!keyed()) return make_error_code(Error::not_established);
        const std::size_t head = header_length(client_key, solution);
        if (head + tag_size + payload.size() > std::min(out.size(), max_packet_size)) return make_error_code(Error::oversized_packet);
        const std::uint64_t nonce = next_nonce_;
        next_nonce_ += 2;
        write_packet_header(out, current_.tid, nonce, client_key, solution);
        current_.box->seal(box_nonce(nonce), payload, out.data() + head);
        return head + tag_size + payload.size();
    }

    /// Opens a parsed packet in place; the payload is a view into `packet`. Nothing
    /// changes unless the box opens (a forged packet cannot move the replay window or
    /// the key generation).
    Result<ByteView> open(const PacketHeader& h, MutableByteView packet) {
        if (!keyed()) return make_error_code(Error::not_established);
        Generation* gen = h.tid == current_.tid ? &current_
                          : h.tid == next_.tid ? &next_
                          : previous_ && h.tid == previous_->tid ? &*previous_
                                                                 : nullptr;
        if (!gen) return make_error_code(Error::unknown_tunnel);
        if ((h.nonce & 1u) == (client_ ? 1u : 0u) || h.nonce == 0) return make_error_code(Error::wrong_nonce_parity);
        const std::uint64_t index = h.nonce >> 1;
        switch (replay_.check(index)) {
            case ReplayVerdict::replayed: return make_error_code(Error::replayed_packet);
            case ReplayVerdict::too_old: return make_error_code(Error::nonce_too_old);
            case ReplayVerdict::fresh: break;
        }
        const ByteView boxed(packet.data() + h.box_offset, packet.size() - h.box_offset);
        std::uint8_t* plain = packet.data() + h.box_offset + tag_size;
        if (!gen->box->open(box_nonce(h.nonce), boxed, plain)) return make_error_code(Error::box_failed);
        replay_.commit(index);
        if (gen == &next_) {
            advance();  // the peer moved on: follow, and forget the old key
            previous_.reset();
            peer_at_current_ = true;
        } else if (gen == &current_) {
            previous_.reset();  // the peer follows our rekey: the old key goes
            peer_at_current_ = true;
        }
        return ByteView(plain, boxed.size() - tag_size);
    }

    /// Moves our sending to the next generation (the paper's rekey). Only once the peer
    /// has been heard at the current one, so it always recognises what we send.
    std::error_code rekey() {
        if (!keyed()) return make_error_code(Error::not_established);
        if (!peer_at_current_) return make_error_code(Error::rekey_in_progress);
        previous_ = std::move(current_);  // still opens the peer's packets until it follows
        current_ = std::move(next_);
        next_ = successor(current_);
        peer_at_current_ = false;
        return {};
    }

private:
    static crypto::nacl::Nonce box_nonce(std::uint64_t nonce) {
        crypto::nacl::Nonce n{};
        std::copy(box_nonce_prefix.begin(), box_nonce_prefix.end(), n.begin());
        for (int i = 0; i < 8; ++i) n[static_cast<std::size_t>(16 + i)] = static_cast<std::uint8_t>(nonce >> (56 - 8 * i));
        return n;
    }

    static Generation make_generation(std::uint32_t number, std::uint64_t tid, const SecretArray<32>& key) {
        Generation g;
        g.number = number;
        g.tid = tid;
        g.key = key;
        g.box.emplace(g.key);
        return g;
    }

    static Generation successor(const Generation& g) {
        static constexpr std::string_view key_label = "minimaLT rekey", tid_label = "minimaLT tid";
        SecretBytes input(key_label.begin(), key_label.end());
        input.insert(input.end(), g.key.begin(), g.key.end());
        Bytes digest = Crypto::hash(crypto::HashAlgorithm::sha512, input);
        SecretArray<32> key;
        std::copy_n(digest.begin(), 32, key.begin());
        secure_zero(digest.data(), digest.size());
        SecretBytes tid_input(tid_label.begin(), tid_label.end());
        tid_input.insert(tid_input.end(), key.begin(), key.end());
        const Bytes t = Crypto::hash(crypto::HashAlgorithm::sha512, tid_input);
        std::uint64_t tid = 0;
        for (int i = 0; i < 8; ++i) tid = tid << 8 | t[static_cast<std::size_t>(i)];
        return make_generation(g.number + 1, tid & tid_mask, key);
    }

    void advance() {
        current_ = std::move(next_);  // the old generation's key is wiped by SecretArray
        next_ = successor(current_);
    }

    bool client_ = false;
    Generation current_, next_;
    std::optional<Generation> previous_;  // after our own rekey, until the peer follows
    std::uint64_t next_nonce_ = 1;
    ReplayWindow<> replay_;
    bool peer_at_current_ = true;
};

}  // namespace tapsec::minimalt

namespace tapsec {

struct MinimaltRecord {
    static constexpr std::string_view name = "MinimaLT tunnel packets (XSalsa20-Poly1305 box)";
    // LHP: the padding frame hides lengths (tunnel requests are always padded). Not OOO:
    // the layer opens packets in any order, but the tunnel delivers in order (go-back-N).
    using provides = features<feature::LHP, feature::record_protection, feature::replay_protection,
                              feature::rekeying>;
    using intrinsic = features<feature::record_protection, feature::replay_protection>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyImport key_import = KeyImport::direct;
    using imported_keys = minimalt::TunnelKeys;
    /// nacl_box builds on Botan's Salsa20 and Poly1305: providers built on Botan 2.
    template <class C>
    static constexpr bool runs_on = std::is_base_of_v<crypto::Botan2, C>;
    template <class Crypto>
    using layer = minimalt::TunnelRecord<Crypto>;
};

}  // namespace tapsec
