// The survey's Section 5.3 table as published (draft-ietf-taps-transport-security-03),
// kept only to mark where a computed row differs from it. M = mandatory,
// S = supported, U = unsupported; columns AN AD MA DM CM SV AFN CX SC LHP ED.
#pragma once

#include <array>
#include <string_view>

namespace tapsec::cli {

struct SurveyRow {
    std::string_view protocol;
    std::string_view cells;  // 11 letters, one per column
    std::string_view notes;
};

inline constexpr std::array<SurveyRow, 9> survey_table{{
    {"TLS", "SSSSUMSSSSS", "CM: U* on TCP (MPTCP would provide it)"},
    {"DTLS", "SSSSSMSSSSU", ""},
    {"IETF QUIC", "SSSSSMSSSSS", ""},
    {"IKEv2+ESP", "SSMSSMSSSSU", ""},
    {"SRTP+DTLS", "SSSSUMSSSUU", ""},
    {"tcpcrypt", "SMUUUMUUSUU", "DM: U** TCP has SYN cookies, not cryptographically strong; CM: U* on TCP"},
    {"WireGuard", "USMSUMUUUSU", "LHP: S+ for transport packets only"},
    {"MinimalT", "UUMSMMUUUSU", ""},
    {"CurveCP", "UUSSMMUUUSU", ""},
}};

}  // namespace tapsec::cli
