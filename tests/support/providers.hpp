// The crypto providers as a test dimension: TEST_CASE_TEMPLATE(name, P, TAPSEC_TEST_PROVIDERS)
// runs a test case once per provider, named "name<Botan2>" and "name<OpenSsl3>", so that
// CTest can run each provider's half on its own (labels provider:botan / provider:openssl,
// tests/CMakeLists.txt). Every file with such test cases includes this header first, so
// the names are the same in all of them.
#pragma once

#include <doctest/doctest.h>

#include <tapsec/crypto/botan.hpp>
#include <tapsec/crypto/openssl.hpp>

TYPE_TO_STRING_AS("Botan2", tapsec::crypto::Botan2);
TYPE_TO_STRING_AS("OpenSsl3", tapsec::crypto::OpenSsl3);

#define TAPSEC_TEST_PROVIDERS tapsec::crypto::Botan2, tapsec::crypto::OpenSsl3
