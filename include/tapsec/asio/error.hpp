// Errors across the Asio boundary. Asio's handlers take boost::system::error_code, and
// Boost 1.74 cannot hold a std::error_code (that arrived in 1.77), so tapsec's codes
// cross as a Boost category that wraps the std one: the value, the name and the message
// stay tapsec's, and to_std() recovers the original code, so `to_std(ec) ==
// tapsec::condition::authentication_failed` holds as for the blocking API. The
// operating system's codes (errno values) become Boost's system category, so comparing
// with boost::asio::error::connection_reset works as usual.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

#include <boost/system/error_code.hpp>

namespace tapsec::asio {

namespace detail {

/// A Boost category standing for one std::error_category (one instance per category,
/// created on first use and kept for the program's lifetime, as categories must be).
class wrapped_category final : public boost::system::error_category {
public:
    explicit wrapped_category(const std::error_category& wrapped) : wrapped_(wrapped) {}
    const char* name() const noexcept override { return wrapped_.name(); }
    std::string message(int value) const override { return wrapped_.message(value); }
    const std::error_category& wrapped() const noexcept { return wrapped_; }

private:
    const std::error_category& wrapped_;
};

inline const wrapped_category& boost_category_for(const std::error_category& category) {
    static std::mutex mutex;
    static std::map<const std::error_category*, std::unique_ptr<wrapped_category>> categories;
    std::lock_guard lock(mutex);
    auto& slot = categories[&category];
    if (!slot) slot = std::make_unique<wrapped_category>(category);
    return *slot;
}

}  // namespace detail

/// tapsec (std) -> Asio (Boost).
inline boost::system::error_code to_boost(const std::error_code& ec) {
    if (!ec) return {};
    // errno values: Boost's system category, the one boost::asio::error's values compare with.
    if (ec.category() == std::system_category() || ec.category() == std::generic_category())
        return {ec.value(), boost::system::system_category()};
    return {ec.value(), detail::boost_category_for(ec.category())};
}

/// Asio (Boost) -> std: tapsec's codes come back unchanged; Boost's own codes convert
/// through Boost's std interoperability.
inline std::error_code to_std(const boost::system::error_code& ec) {
    if (!ec) return {};
    if (auto* wrapped = dynamic_cast<const detail::wrapped_category*>(&ec.category()))
        return {ec.value(), wrapped->wrapped()};
    if (ec.category() == boost::system::system_category()) return {ec.value(), std::system_category()};
    if (ec.category() == boost::system::generic_category()) return {ec.value(), std::generic_category()};
    return ec;  // Boost's conversion operator (e.g. asio's misc and netdb categories)
}

}  // namespace tapsec::asio
