#!/usr/bin/env python3
"""Writes vectors.json: blind-index test vectors computed independently of
the Go code, from the construction in the package documentation.

Run from this directory: python3 gen_vectors.py > vectors.json
Keys are fixed test keys; numbers are synthetic (fiction ranges)."""
import base64, hashlib, hmac, json

INDEX_KEY = bytes(range(0, 32))
PSEUDONYM_KEY = bytes(range(32, 64))


def mac(key, msg):
    d = hmac.new(key, msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(d).rstrip(b"=").decode()


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


numbers = ["+442079460123", "+12025550123", "+33199001234", "+61491570156"]
users = ["US.13491208655302741918", "US.ENT.11815799212886844830", "BR.a1B2c3D4e5"]
lookups = [("wamid", "wamid.HBgMNDQyMDc5NDYwMTIzFQIAEhggQTFCMkMzRDRFNUY2QTdCOEM5RDBFMUYyQTNCNEM1RDYA"),
           ("wamid", ""), ("", "wamid"), ("idem", "client-1#order-42"),
           ("k" * 200, "long kind, two-byte length prefix")]
print(json.dumps({
    "index_key": INDEX_KEY.hex(),
    "pseudonym_key": PSEUDONYM_KEY.hex(),
    "numbers": [{
        "e164": n,
        "index": mac(INDEX_KEY, b"waguard/v1/blind-index\x00" + n.encode()),
        "pseudonym": mac(PSEUDONYM_KEY, b"waguard/v1/audit-pseudonym\x00" + n.encode()),
    } for n in numbers],
    "users": [{
        "bsuid": u,
        "index": mac(INDEX_KEY, b"waguard/v1/blind-index-bsuid\x00" + u.encode()),
        "pseudonym": mac(PSEUDONYM_KEY, b"waguard/v1/audit-pseudonym-bsuid\x00" + u.encode()),
    } for u in users],
    "lookups": [{
        "kind": k, "id": i,
        "lookup": mac(INDEX_KEY, b"waguard/v1/lookup\x00" + uvarint(len(k)) + k.encode() + i.encode()),
    } for k, i in lookups],
}, indent=2))
