// Traffic flow confidentiality padding (RFC 4303 2.4 and 2.7): octets appended to the
// inner IP packet inside the ciphertext, before ESP's own block padding, so that an
// observer of the tunnel sees fewer distinct packet sizes. The receiver needs no
// signal: it takes the inner packet's length from the inner IP header and discards the
// rest (RFC 4303 2.4: "the receiver ... can determine the original length").
//   off       no TFC padding
//   bucket:N  the inner packet padded up to the next multiple of N octets
//   fixed:N   every inner packet padded to N octets (a longer one is sent as it is)
#pragma once

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tapsec::esp {

struct TfcPadding {
    enum class Mode { off, bucket, fixed };
    /// The largest N: an inner IP packet is at most 65535 octets long.
    static constexpr std::size_t max_size = 65535;

    Mode mode = Mode::off;
    std::size_t size = 0;  // N (unused when off)

    static constexpr TfcPadding off() noexcept { return {}; }
    static constexpr TfcPadding bucket(std::size_t n) noexcept { return {Mode::bucket, n}; }
    static constexpr TfcPadding fixed(std::size_t n) noexcept { return {Mode::fixed, n}; }

    constexpr bool enabled() const noexcept { return mode != Mode::off && size > 0; }

    /// The length of the inner packet once padded (never shorter than `inner`, never
    /// beyond max_size: the receiver could not tell padding from packet otherwise).
    constexpr std::size_t padded_length(std::size_t inner) const noexcept {
        if (!enabled() || inner >= max_size) return inner;
        std::size_t target = inner;
        if (mode == Mode::bucket) target = (inner + size - 1) / size * size;
        else if (inner < size) target = size;
        if (target == 0) target = size;  // an empty payload still hides its length
        return target > max_size ? max_size : target;
    }

    /// "off", "bucket:N" or "fixed:N" with 1 <= N <= 65535; nullopt otherwise.
    static std::optional<TfcPadding> parse(std::string_view text) {
        if (text == "off") return off();
        const auto colon = text.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        const std::string_view kind = text.substr(0, colon), digits = text.substr(colon + 1);
        std::size_t n = 0;
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() || n == 0 || n > max_size)
            return std::nullopt;
        if (kind == "bucket") return bucket(n);
        if (kind == "fixed") return fixed(n);
        return std::nullopt;
    }

    std::string to_string() const {
        if (!enabled()) return "off";
        return std::string(mode == Mode::bucket ? "bucket:" : "fixed:") + std::to_string(size);
    }
    friend constexpr bool operator==(const TfcPadding&, const TfcPadding&) = default;
};

}  // namespace tapsec::esp
