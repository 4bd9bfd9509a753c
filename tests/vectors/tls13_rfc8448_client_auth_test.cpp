// RFC 8448 Section 6, "Client Authentication" (TLS_AES_128_GCM_SHA256, X25519): the
// server sends CertificateRequest, the client answers with Certificate and
// CertificateVerify before its Finished. Every secret, key, Finished and record.
// The trace below is the RFC's text (tls13_rfc8448_extract.py rfc8448.txt 6).
#include "support/providers.hpp"
#include "tls13_rfc8448_trace.hpp"

namespace tls13_rfc8448_client_auth_test {

using namespace rfc8448;

const Trace section6 = {
    {"client", "create an ephemeral x25519 key pair:", {
        {"private key", "b170d0334d01183d81490163ac6056c8e20f8403a941dc3c31901da3f72fdda0"},
        {"public key", "8797aae7a09bb2c11a727d658d23b6b81f103ae658113b20d8081664efba5c07"},
    }},
    {"client", "construct a ClientHello handshake message", {
        {"ClientHello", "010000bc0303c141f6850063dfa8609a25962e9b9a820ba7778adc50953ac2a69cd304780f1300000613011303130201"
         "00008d0000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400"
         "3300260024001d00208797aae7a09bb2c11a727d658d23b6b81f103ae658113b20d8081664efba5c07002b0003020304"
         "000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001"},
    }},
    {"client", "send handshake record:", {
        {"payload", "010000bc0303c141f6850063dfa8609a25962e9b9a820ba7778adc50953ac2a69cd304780f1300000613011303130201"
         "00008d0000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400"
         "3300260024001d00208797aae7a09bb2c11a727d658d23b6b81f103ae658113b20d8081664efba5c07002b0003020304"
         "000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001"},
        {"complete record", "16030100c0010000bc0303c141f6850063dfa8609a25962e9b9a820ba7778adc50953ac2a69cd304780f130000061301"
         "130313020100008d0000000b0009000006736572766572ff01000100000a00140012001d001700180019010001010102"
         "01030104003300260024001d00208797aae7a09bb2c11a727d658d23b6b81f103ae658113b20d8081664efba5c07002b"
         "0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d0002010100"
         "1c00024001"},
    }},
    {"server", "extract secret \"early\":", {
        {"salt", ""},
        {"IKM", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"secret", "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"},
    }},
    {"server", "create an ephemeral x25519 key pair:", {
        {"private key", "5a9c17e993079e2a778bbfbde3ddc65a71addebec80e0533c319e464777aa503"},
        {"public key", "36ba81e8649a3d86689820861adb6f51267ba7b19f78eede04a9379957428631"},
    }},
    {"server", "construct a ServerHello handshake message", {
        {"ServerHello", "02000056030372aee1ac0dfe2c69fc852576b2b2a69a8d5fd45387d8d76b34d9a0c2580eef2500130100002e00330024"
         "001d002036ba81e8649a3d86689820861adb6f51267ba7b19f78eede04a9379957428631002b00020304"},
    }},
    {"server", "derive secret for handshake \"tls13 derived\":", {
        {"PRK", "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"},
    }},
    {"server", "extract secret \"handshake\":", {
        {"salt", "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"},
        {"IKM", "9629f1f665aa4b89ecefa53f6105d3194f92b4632a3656616ca1a39386368a16"},
        {"secret", "b5271d43049bab322b642e5a63f1fac1eb4f2114d8b57c3a38f4f7a3357e86b5"},
    }},
    {"server", "derive secret \"tls13 c hs traffic\":", {
        {"PRK", "b5271d43049bab322b642e5a63f1fac1eb4f2114d8b57c3a38f4f7a3357e86b5"},
        {"hash", "f719cbf5831ca2d113b533eea0d239ddaaf905975b88f3fdfbf5d13172bcfd7f"},
        {"info", "002012746c7331332063206873207472616666696320f719cbf5831ca2d113b533eea0d239ddaaf905975b88f3fdfbf5"
         "d13172bcfd7f"},
        {"expanded", "a7234f1d426aa04c0ab8f080c7a35d95b335c6cadc247e9947ba8e326ff52334"},
    }},
    {"server", "derive secret \"tls13 s hs traffic\":", {
        {"PRK", "b5271d43049bab322b642e5a63f1fac1eb4f2114d8b57c3a38f4f7a3357e86b5"},
        {"hash", "f719cbf5831ca2d113b533eea0d239ddaaf905975b88f3fdfbf5d13172bcfd7f"},
        {"info", "002012746c7331332073206873207472616666696320f719cbf5831ca2d113b533eea0d239ddaaf905975b88f3fdfbf5"
         "d13172bcfd7f"},
        {"expanded", "8fcb832a5a3cc5f2a152455b05594ddf27c4bd2cfa66f2dc1b71c4326956c187"},
    }},
    {"server", "derive secret for master \"tls13 derived\":", {
        {"PRK", "b5271d43049bab322b642e5a63f1fac1eb4f2114d8b57c3a38f4f7a3357e86b5"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "4d147ca1a299b75a2ad8e0cca99399fdf8374d690c17c0993e793182d8754a8d"},
    }},
    {"server", "extract secret \"master\":", {
        {"salt", "4d147ca1a299b75a2ad8e0cca99399fdf8374d690c17c0993e793182d8754a8d"},
        {"IKM", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"secret", "fa1ce84cdeabebb401507ba88eaa988a32e49afd8b4c6a1a6c7728b668a38859"},
    }},
    {"server", "send handshake record:", {
        {"payload", "02000056030372aee1ac0dfe2c69fc852576b2b2a69a8d5fd45387d8d76b34d9a0c2580eef2500130100002e00330024"
         "001d002036ba81e8649a3d86689820861adb6f51267ba7b19f78eede04a9379957428631002b00020304"},
        {"complete record", "160303005a02000056030372aee1ac0dfe2c69fc852576b2b2a69a8d5fd45387d8d76b34d9a0c2580eef250013010000"
         "2e00330024001d002036ba81e8649a3d86689820861adb6f51267ba7b19f78eede04a9379957428631002b00020304"},
    }},
    {"server", "derive write traffic keys for handshake data:", {
        {"PRK", "8fcb832a5a3cc5f2a152455b05594ddf27c4bd2cfa66f2dc1b71c4326956c187"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "9c7f5344100bf75d629d4e2726d18f04"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "1493aa331455b14fb0e01107"},
    }},
    {"server", "construct a EncryptedExtensions handshake message", {
        {"EncryptedExtensions", "080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000"},
    }},
    {"server", "construct a CertificateRequest handshake message", {
        {"CertificateRequest", "0d000027000024000d0020001e040305030603020308040805080604010501060102010402050206020202"},
    }},
    {"server", "construct a Certificate handshake message", {
        {"Certificate", "0b00013b000001370001323082012e3081d5a003020102020107300a06082a8648ce3d04030230133111300f06035504"
         "0313086563647361323536301e170d3136303733303031323430305a170d3236303733303031323430305a3013311130"
         "0f0603550403130865636473613235363059301306072a8648ce3d020106082a8648ce3d0301070342000408d5301615"
         "75f4cfe7f154ee3448180086001e88431a79ee62ee6e2f83ef38ba61e9fb37f34e007a7df4d2f5b56d1f04ece45d621f"
         "468406f5c3a15158948dd0a31a301830090603551d1304023000300b0603551d0f040403020780300a06082a8648ce3d"
         "0403020348003045022100df30fd4507f5edd22c1a6ff86db479ca693feeca3b71b3f9ef556b2937c0594d022062e2a4"
         "7250d320fea83c7e2dcb5b76a50e0200c09adbd13fee946e513e011d110000"},
    }},
    {"server", "construct a CertificateVerify handshake message", {
        {"CertificateVerify", "0f00004a04030046304402202db4567831312879703ffa3d6e65f2990e097b7b16b48c3fc47230080d75383c02205256"
         "54b97e703bebfd5a16c2eda7059e7f5671ff103602fddc670fea14636fdd"},
    }},
    {"server", "calculate finished \"tls13 finished\":", {
        {"PRK", "8fcb832a5a3cc5f2a152455b05594ddf27c4bd2cfa66f2dc1b71c4326956c187"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "9f68206509f4922be8f2d0fb625f3ec9d9e777f9a38dcf121f5d561dd591c328"},
        {"finished", "9ae794c42226376b4cff6904015f10f2332312ba2899b8d7ba4e7db515e507f4"},
    }},
    {"server", "construct a Finished handshake message", {
        {"Finished", "140000209ae794c42226376b4cff6904015f10f2332312ba2899b8d7ba4e7db515e507f4"},
    }},
    {"server", "send handshake record:", {
        {"payload", "080000240022000a00140012001d00170018001901000101010201030104001c00024001000000000d00002700002400"
         "0d0020001e0403050306030203080408050806040105010601020104020502060202020b00013b000001370001323082"
         "012e3081d5a003020102020107300a06082a8648ce3d04030230133111300f060355040313086563647361323536301e"
         "170d3136303733303031323430305a170d3236303733303031323430305a30133111300f060355040313086563647361"
         "3235363059301306072a8648ce3d020106082a8648ce3d0301070342000408d530161575f4cfe7f154ee344818008600"
         "1e88431a79ee62ee6e2f83ef38ba61e9fb37f34e007a7df4d2f5b56d1f04ece45d621f468406f5c3a15158948dd0a31a"
         "301830090603551d1304023000300b0603551d0f040403020780300a06082a8648ce3d0403020348003045022100df30"
         "fd4507f5edd22c1a6ff86db479ca693feeca3b71b3f9ef556b2937c0594d022062e2a47250d320fea83c7e2dcb5b76a5"
         "0e0200c09adbd13fee946e513e011d1100000f00004a04030046304402202db4567831312879703ffa3d6e65f2990e09"
         "7b7b16b48c3fc47230080d75383c0220525654b97e703bebfd5a16c2eda7059e7f5671ff103602fddc670fea14636fdd"
         "140000209ae794c42226376b4cff6904015f10f2332312ba2899b8d7ba4e7db515e507f4"},
        {"complete record", "17030302154282dc14d1e11ba43d005cb45e62081eb3897b2944a0215f68af5a60949f2ec3f484c1954167510d8a3ca9"
         "5a046600d7ffcab7dce4c6537f577dbfbb6d681e7e55bb2a4c9255fbe80664dba4de631f60cd57f34e100563a51f31e0"
         "da25172cd20d4cd1c0a5f53f5ed586751ce4601896b24cc337423d03a2d2e89186909e69a3a22846e76a3a943d2cc595"
         "25d37b59a69f51d4e82ea90f9e6d30113d443566d78c20826afb73e8f97b75cb2d7aceb02f2219372a0a658754e43546"
         "ff6b21a7bb05ae0db38f047839a358695bd96c667ded9f255045adb43b25dda7814627bca1edac46b692be1f5b12b95a"
         "64094c6b5a48a037de1fecbbf4f954cd6879c51f859b72fad38d8dd07a4c7644efb6a59bcb919e1e57bd63fce87c99a3"
         "a92981144a5e384a81d6773242243e15388f55af65c8e4bfde012b4d61375327d81d857e9d1a6bc279be53d662f5377b"
         "c736d00d370c91bf07056802ee0f20d0121cd833589fe7cd04e846f22a53a68fc976ce712e618c9891b1b8113eec5236"
         "be492f0d9d35191e69bf6791b0e54186121c5af476ae2e4582caefdb67c067fab6c3265c1fe1bd5fa5cddc6656d7141b"
         "786a9bc583180b4e0312d6e3dd0577a3e83f3e765f192d643e12dac40bc10650eaeffae315bd9e329457d59ce5b7a9b6"
         "90055745deb1afa421936acc7adf7922058d050474065dc1fb10a136354df8b1a33b9d78d5fc9187c03fd25550aa6efd"
         "3ba52e02c2020dbf605a"},
    }},
    {"server", "derive secret \"tls13 c ap traffic\":", {
        {"PRK", "fa1ce84cdeabebb401507ba88eaa988a32e49afd8b4c6a1a6c7728b668a38859"},
        {"hash", "0827bd708539f80f8355197f0c0b1cc864b4f040beddc301d1754cfbcca986d4"},
        {"info", "002012746c73313320632061702074726166666963200827bd708539f80f8355197f0c0b1cc864b4f040beddc301d175"
         "4cfbcca986d4"},
        {"expanded", "64aec1a73003f61ebe79329453da5f54bfb4fb423b1a5a8387e9366ca73eef83"},
    }},
    {"server", "derive secret \"tls13 s ap traffic\":", {
        {"PRK", "fa1ce84cdeabebb401507ba88eaa988a32e49afd8b4c6a1a6c7728b668a38859"},
        {"hash", "0827bd708539f80f8355197f0c0b1cc864b4f040beddc301d1754cfbcca986d4"},
        {"info", "002012746c73313320732061702074726166666963200827bd708539f80f8355197f0c0b1cc864b4f040beddc301d175"
         "4cfbcca986d4"},
        {"expanded", "928ba795b9ae8dc48ba53737db974455bdb06164047c4c02ffcb21fa03172faf"},
    }},
    {"server", "derive secret \"tls13 exp master\":", {
        {"PRK", "fa1ce84cdeabebb401507ba88eaa988a32e49afd8b4c6a1a6c7728b668a38859"},
        {"hash", "0827bd708539f80f8355197f0c0b1cc864b4f040beddc301d1754cfbcca986d4"},
        {"info", "002010746c73313320657870206d6173746572200827bd708539f80f8355197f0c0b1cc864b4f040beddc301d1754cfb"
         "cca986d4"},
        {"expanded", "3419b4f2e3374af842141e40770939b1100c5cdaa2d719fabdecb60f16e86337"},
    }},
    {"server", "derive write traffic keys for application data:", {
        {"PRK", "928ba795b9ae8dc48ba53737db974455bdb06164047c4c02ffcb21fa03172faf"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "d1395c03b8647e074da2043f9926ac31"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "83904362f7b4d17f98f7b1f6"},
    }},
    {"server", "derive read traffic keys for handshake data:", {
        {"PRK", "a7234f1d426aa04c0ab8f080c7a35d95b335c6cadc247e9947ba8e326ff52334"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "3f6dd5ef54bea3e33d4dde9f5b2d0d19"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "5b17b05d8a0a2706f34ac0fd"},
    }},
    {"client", "extract secret \"early\" (same as server early secret)", {
    }},
    {"client", "derive secret for handshake \"tls13 derived\":", {
        {"PRK", "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"},
    }},
    {"client", "extract secret \"handshake\" (same as server handshake secret)", {
    }},
    {"client", "derive secret \"tls13 c hs traffic\" (same as server)", {
    }},
    {"client", "derive secret \"tls13 s hs traffic\" (same as server)", {
    }},
    {"client", "derive secret for master \"tls13 derived\" (same as server)", {
    }},
    {"client", "extract secret \"master\" (same as server master secret)", {
    }},
    {"client", "derive read traffic keys for handshake data (same as server handshake data write traffic keys)", {
    }},
    {"client", "calculate finished \"tls13 finished\" (same as server)", {
    }},
    {"client", "derive secret \"tls13 c ap traffic\" (same as server)", {
    }},
    {"client", "derive secret \"tls13 s ap traffic\" (same as server)", {
    }},
    {"client", "derive secret \"tls13 exp master\" (same as server)", {
    }},
    {"client", "derive write traffic keys for handshake data (same as server handshake data read traffic keys)", {
    }},
    {"client", "derive read traffic keys for application data (same as server application data write traffic keys)", {
    }},
    {"client", "construct a Certificate handshake message", {
        {"Certificate", "0b0001bf000001bb0001b6308201b23082011ba003020102020101300d06092a864886f70d01010b05003011310f300d"
         "06035504031306636c69656e74301e170d3136303733303031323335395a170d3236303733303031323335395a301131"
         "0f300d06035504031306636c69656e7430819f300d06092a864886f70d010101050003818d0030818902818100c38175"
         "e004a68d093f823b9c379d201fbc0bb7a1c791905e3fbf76847e44e751ebbcd360bd945c81e5222bcc8846d3a8a0f93e"
         "9bf5bebabd92edf1de1ff19021703e7ab6c0901513f97e39b111f09c9348971c7b211984a754cd45fe095af0ea423682"
         "9bccf7a7fe9b2888e78ab477690a5b9e1ccbe91c6a4a0f97a7e02842010203010001a31a301830090603551d13040230"
         "00300b0603551d0f040403020780300d06092a864886f70d01010b0500038181001a7a5a018532b022af0767d486160c"
         "ff2d167a1915d23835b54594916dc680be5d2e626076c5d52722ebcc775d7d99f980be2fc94d34acf6cc00ba90cbcfb0"
         "608aa1e7e3971ef0c07a41d47ad8345d1f81fe418a1cf41054429fd217bd777dc1cf08f05df90799c659361e0f1a8ee4"
         "ac0f7897420bdbc823da80a2f2ba23081c0000"},
    }},
    {"client", "construct a CertificateVerify handshake message", {
        {"CertificateVerify", "0f0000840804008057ad47d96c1697397350d521b35f9a46973ac0109314be645ebb20bb04893189be340a03baf87dc4"
         "da6a805e015292c4dabc85a3362a04c6546ee8ce8a5e9b016ce9e1432ff089034bbc6b6037d872fb472f4217b64453bb"
         "600ac3c9df355b0cc1c252ad6cb895a3ed7af6f36c7d7a6080ffdc95fa4d8449bfd4e00a0e6acf1e"},
    }},
    {"client", "calculate finished \"tls13 finished\":", {
        {"PRK", "a7234f1d426aa04c0ab8f080c7a35d95b335c6cadc247e9947ba8e326ff52334"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "b86e849cc8c8bcb192c3bfc52e9b5feae0c96e62284cbbcff4101f508ab44873"},
        {"finished", "31a51eacdf4f60a1fe37e8fbd57a8933faf16e65b07d245897146a283a5100ed"},
    }},
    {"client", "construct a Finished handshake message", {
        {"Finished", "1400002031a51eacdf4f60a1fe37e8fbd57a8933faf16e65b07d245897146a283a5100ed"},
    }},
    {"client", "send handshake record:", {
        {"payload", "0b0001bf000001bb0001b6308201b23082011ba003020102020101300d06092a864886f70d01010b05003011310f300d"
         "06035504031306636c69656e74301e170d3136303733303031323335395a170d3236303733303031323335395a301131"
         "0f300d06035504031306636c69656e7430819f300d06092a864886f70d010101050003818d0030818902818100c38175"
         "e004a68d093f823b9c379d201fbc0bb7a1c791905e3fbf76847e44e751ebbcd360bd945c81e5222bcc8846d3a8a0f93e"
         "9bf5bebabd92edf1de1ff19021703e7ab6c0901513f97e39b111f09c9348971c7b211984a754cd45fe095af0ea423682"
         "9bccf7a7fe9b2888e78ab477690a5b9e1ccbe91c6a4a0f97a7e02842010203010001a31a301830090603551d13040230"
         "00300b0603551d0f040403020780300d06092a864886f70d01010b0500038181001a7a5a018532b022af0767d486160c"
         "ff2d167a1915d23835b54594916dc680be5d2e626076c5d52722ebcc775d7d99f980be2fc94d34acf6cc00ba90cbcfb0"
         "608aa1e7e3971ef0c07a41d47ad8345d1f81fe418a1cf41054429fd217bd777dc1cf08f05df90799c659361e0f1a8ee4"
         "ac0f7897420bdbc823da80a2f2ba23081c00000f0000840804008057ad47d96c1697397350d521b35f9a46973ac01093"
         "14be645ebb20bb04893189be340a03baf87dc4da6a805e015292c4dabc85a3362a04c6546ee8ce8a5e9b016ce9e1432f"
         "f089034bbc6b6037d872fb472f4217b64453bb600ac3c9df355b0cc1c252ad6cb895a3ed7af6f36c7d7a6080ffdc95fa"
         "4d8449bfd4e00a0e6acf1e1400002031a51eacdf4f60a1fe37e8fbd57a8933faf16e65b07d245897146a283a5100ed"},
        {"complete record", "170303028073d156e70b1ff2abc8273093efc40fc5bc1121defc121d09a5e5c09704ce592dedb0b3c56687bbd26bb494"
         "93b15a0aa8d01ecf059a024feae8ff8b02c2c7ec7695a8c1ba7cef04e800260883d133f2bd8551f997c2916561172576"
         "c9284822660528a279dfc9cab871427c193d3e91b05693b2ef35e24c03d48f69e380dc44250e2057f516c13a1ff7a961"
         "b06b2f5512e8dcf1bc0154fea163fbd582fe9d501623034a62e6e91c4c354150e9e5ea1b97fb2229c88250d33c73bd35"
         "6ffc6cd62129eb0a8dcc6da5d7e771547bdeba7a87c8cd3384ddf825bcd81a720b8c23b91c3d97bb6c0c024a2381b65a"
         "d14a99fbea7b385b8b9eb4373cd9ece95751d0bc3998a4ba99bdd2676bb339f186acf21a3dc1eeda9d518ddbdec644ff"
         "3d40e5347745ad6bed23f384672be22872500923fd13ab0c13865c3c984336c9745898161a7e24880a73e14dbba342b8"
         "e0d82423afa5690ee28d873347a57ffb30e37b9ab20b459d6c93272c745e49d596b1c0ebd36bf9359827c0d7d41285f4"
         "3e3af8bd84235e08458ceb3b234c4aad8c79d816df77399035406ade178c2baf1ef0fec2eba58215556c8d1e1435e543"
         "9426f9958a62dd8a820a2662f60a143648d922103b9160fbb66e5c030ed5922b585010910b9aa435906544d21ee2bc9c"
         "d870f8928d27781f1144e0dcb6fe982a67f9415b4206623a47370149de5efe14fe5a46d97f8f9bc5f2fcf328a9207eb1"
         "97e767849c1d2851bf391f2b2744fda55fcc723e7075450836a2764b31b906f0a280294c47864b80f91f7e904e50c83c"
         "69d195a07d3262bc5886209ed37637ebb8e8fc1420e1add6c778ab234283efcad9eeff47f4f617730eb2113b1ddd0c6a"
         "97e452ec9b3d22c51176f4b7eb00657031d5408eda"},
    }},
    {"client", "derive write traffic keys for application data:", {
        {"PRK", "64aec1a73003f61ebe79329453da5f54bfb4fb423b1a5a8387e9366ca73eef83"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "2e54eaa7a7e8ef2ab4c492ef7ae4cc3b"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "9808247ace50e6922b8da6c2"},
    }},
    {"client", "derive secret \"tls13 res master\":", {
        {"PRK", "fa1ce84cdeabebb401507ba88eaa988a32e49afd8b4c6a1a6c7728b668a38859"},
        {"hash", "7a05b22e52bc248b166b2ddf75249e5d607f98332ede691c80afa21967eaa255"},
        {"info", "002010746c73313320726573206d6173746572207a05b22e52bc248b166b2ddf75249e5d607f98332ede691c80afa219"
         "67eaa255"},
        {"expanded", "143d7c34e866952741b29051485a39fcdfc4594f6c7b39a56da13a612ef85371"},
    }},
    {"server", "calculate finished \"tls13 finished\" (same as client)", {
    }},
    {"server", "derive read traffic keys for application data (same as client application data write traffic keys)", {
    }},
    {"server", "derive secret \"tls13 res master\" (same as client)", {
    }},
    {"client", "send alert record:", {
        {"payload", "0100"},
        {"complete record", "1703030013f3853229ff4a6c8890456c34e939f0b5e74fa8"},
    }},
    {"server", "send alert record:", {
        {"payload", "0100"},
        {"complete record", "170303001374a575b0d65d656ede6c54f56bea5fbc169700"},
    }},
};


TEST_CASE_TEMPLATE("RFC 8448 section 6: every HKDF step recomputed from its printed inputs", Crypto, TAPSEC_TEST_PROVIDERS) {
    CHECK(check_every_hkdf_step<Crypto>(section6, TLS_AES_128_GCM_SHA256) == 18);
}

TEST_CASE_TEMPLATE("RFC 8448 section 6: client authentication key schedule and records, byte for byte", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto& suite = TLS_AES_128_GCM_SHA256;
    const auto& t = section6;

    const auto client_key = Crypto::KeyShare::from_x25519_private(value(t, "client", "create an ephemeral x25519", "private key"));
    REQUIRE(client_key.ok());
    const auto server_key = Crypto::KeyShare::from_x25519_private(value(t, "server", "create an ephemeral x25519", "private key"));
    REQUIRE(server_key.ok());
    CHECK(hex(client_key->public_key()) == hex(value(t, "client", "create an ephemeral x25519", "public key")));
    auto shared = server_key->agree(client_key->public_key());
    REQUIRE(shared.ok());

    check_plaintext_record(step(t, "client", "send handshake record", 0), 0x0301);
    check_plaintext_record(step(t, "server", "send handshake record", 0), 0x0303);
    Transcript<Crypto> transcript;
    transcript.add(value(t, "client", "construct a ClientHello", "ClientHello"));
    transcript.set_hash(suite.hash);
    transcript.add(value(t, "server", "construct a ServerHello", "ServerHello"));

    check_full_handshake_after_hello(t, suite, transcript, *shared,
                                     {"EncryptedExtensions", "CertificateRequest", "Certificate", "CertificateVerify"},
                                     {"Certificate", "CertificateVerify"}, 1, 1);
}

}  // namespace tls13_rfc8448_client_auth_test
