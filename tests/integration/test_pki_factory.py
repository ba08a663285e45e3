"""The test PKI itself: every file the other scenarios use is what it claims to be (the
factory checks each with openssl as it builds them; this makes a broken factory one clear
failure instead of many confusing ones). Needs no certgate binary."""

from conftest import cert_fingerprint, cert_not_after, days_left


def test_factory_builds_and_verifies(pki):
    assert pki.root.exists() and pki.inter.exists() and pki.client.exists()
    assert len(cert_fingerprint(pki.client)) == 64
    assert 363 <= days_left(cert_not_after(pki.client)) <= 365
    assert days_left(cert_not_after(pki.expired)) < 0
    assert pki.p12_truncated.stat().st_size * 2 <= pki.p12_modern.stat().st_size + 1
