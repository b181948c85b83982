"""The README.txt every evidence bundle carries: how a recipient checks it, with the verifier or by hand.

Every line a recipient types starts with ``  $ `` (continuation lines are indented deeper), so
``tests/api/test_bundle_readme.py`` runs exactly these commands, in this order, on a real bundle.
"""

from __future__ import annotations

README = r"""How to check this evidence bundle
=================================

This folder (or zip file) is a BagIt bag (RFC 8493) made by a Precedent server. It proves two things:

* every file under data/ is byte for byte the file the organisation's custody ledger recorded when the file
  was received (or, for a working copy with its metadata removed, when the copy was made from the original);
* this set of files is exactly the set the organisation entered in its ledger when it made the bundle:
  data/records/manifest.json lists every file with its SHA-256, and the manifest's own SHA-256 is a ledger
  record. A file added, removed or replaced after that shows.

The ledger is a Merkle tree (RFC 6962 / RFC 9162). The organisation signs its root with an Ed25519 key
(RFC 8032). Nothing here asks you to trust the server: you need only the organisation's published public key.

Where the key comes from
------------------------
Ask the organisation for its public key through a channel you trust (its website, a signed letter, a call),
or have someone with an account fetch it from its server (GET /api/v1/custody/key). Do not rely on the copy
in data/custody/public-key.pem: anyone who altered the bundle could have replaced it. Save the key as
published-key.pem. Its fingerprint is the SHA-256 of the raw 32-byte key; the organisation can read it to you:

  $ openssl pkey -pubin -in published-key.pem -outform DER | tail -c 32 | sha256sum

It must equal "key_id" in data/custody/tree-head.json.


A. With the verifier (recommended)
----------------------------------
Install it from PyPI (Python 3.10 or newer; it needs only the cryptography and rfc3161-client packages,
nothing of the server):

    python3 -m pip install precedent-evidence
    precedent-verify <this zip file or folder> --public-key published-key.pem

It checks everything in B below, and more (zip structure, every custody event, the working copies'
derivation), and prints "VERIFIED" and exits 0 only if every file is bound to the signed ledger; otherwise it
names each file or record that failed and exits 1. If data/custody/tree-head.tsr exists, add
--tsa-ca <the time-stamping authority's CA certificate> to check its certificate chain too.


B. By hand, with sha256sum, openssl (1.1.1 or newer) and bash
------------------------------------------------------------
Run these in the bag's top folder (the one holding bagit.txt), with published-key.pem copied there.

1. The signature over the ledger's root. data/custody/tree-head.txt holds exactly the signed bytes: four
   lines, "precedent-tree-head-v1", the number of ledger records, the root hash (hex), the time (UTC);
   data/custody/tree-head.sig holds the 64-byte signature. This must print "Signature Verified Successfully":

  $ openssl pkeyutl -verify -pubin -inkey published-key.pem -rawin -in data/custody/tree-head.txt -sigfile data/custody/tree-head.sig
  $ ROOT=$(sed -n 3p data/custody/tree-head.txt); echo "signed root: $ROOT"

2. The files are the ones the manifest lists, and nothing was added or removed. Every line must say OK, and
   the two lists must be the same:

  $ grep -o '"path":"[^"]*","role":"[a-z]*","sha256":"[0-9a-f]*"' data/records/manifest.json | sed 's/"path":"\([^"]*\)","role":"[a-z]*","sha256":"\([0-9a-f]*\)"/\2  \1/' | sha256sum -c
  $ find data -type f ! -path 'data/custody/*' ! -path data/records/manifest.json | sort > /tmp/held.txt
  $ grep -o '"path":"[^"]*"' data/records/manifest.json | cut -d'"' -f4 | sort > /tmp/listed.txt
  $ diff /tmp/held.txt /tmp/listed.txt && echo "the manifest lists every file, and every file it lists is here"

   (sha256sum -c manifest-sha256.txt checks the bag too, but anyone can rewrite that list; the manifest
   is what the ledger binds.)

3. Define two small functions. prove DIGEST finds the ledger record whose "object" is sha256:DIGEST in
   data/custody/events.jsonl, hashes its exact bytes (the base64 "leaf"; leaf hash = SHA-256 of a 0x00 byte
   followed by those bytes), and folds its inclusion proof from data/custody/proofs.txt (a line per record:
   leaf index, tree size, leaf hash, then the audit path; node hash = SHA-256 of 0x01, left, right) up to
   the root, as RFC 9162 section 2.1.3.2 says:

  $ node() { { printf '\001'; printf "$(printf %s "$1$2" | sed 's/../\\x&/g')"; } | sha256sum | cut -c1-64; }
  $ prove() {
      line=$(grep -m1 "\"object\":\"sha256:$1\"" data/custody/events.jsonl) || { echo "NOT IN THE LEDGER: $1"; return 1; }
      n=$(printf %s "$line" | sed 's/^{"leaf_index":\([0-9]*\),.*/\1/')
      leaf=$(printf %s "$line" | sed 's/.*"leaf":"\([^"]*\)".*/\1/' | openssl base64 -d -A | { printf '\000'; cat; } | sha256sum | cut -c1-64)
      set -- $(grep "^$n " data/custody/proofs.txt)
      [ "$3" = "$leaf" ] || { echo "leaf $n: its bytes do not hash to the proven leaf hash"; return 1; }
      fn=$1; sn=$(($2 - 1)); r=$leaf; shift 3
      for p in "$@"; do
        if [ $((fn & 1)) -eq 1 ] || [ $fn -eq $sn ]; then
          r=$(node "$p" "$r")
          while [ $((fn & 1)) -eq 0 ] && [ $fn -ne 0 ]; do fn=$((fn >> 1)); sn=$((sn >> 1)); done
        else
          r=$(node "$r" "$p")
        fi
        fn=$((fn >> 1)); sn=$((sn >> 1))
      done
      if [ $sn -eq 0 ] && [ "$r" = "$ROOT" ]; then echo "PROVEN: record $n, $(printf %s "$line" | grep -o '"action":"[a-z]*"')"; else echo "NOT PROVEN: record $n"; return 1; fi
    }

4. The manifest is a ledger record ("exported"), and so is every exhibit (a "received" record, or "derived"
   for a working copy). Each line must say PROVEN:

  $ prove "$(sha256sum data/records/manifest.json | cut -c1-64)"
  $ for f in data/exhibits/* data/sighted/*; do [ -f "$f" ] && { printf '%s: ' "$f"; prove "$(sha256sum "$f" | cut -c1-64)"; }; done; true

   Also read the record the grep found for each exhibit: its "evidence" is the item's id in the manifest,
   and a working copy's "derived" record names its original ("source", "source_digest").

5. The time-stamp, if data/custody/tree-head.tsr exists: an RFC 3161 token over the SHA-256 of
   data/custody/tree-head.txt, from an independent time-stamping authority. With that authority's CA
   certificate saved as tsa-ca.pem:

    openssl ts -verify -digest "$(sha256sum data/custody/tree-head.txt | cut -c1-64)" -in data/custody/tree-head.tsr -CAfile tsa-ca.pem

What the files are: data/exhibits/ the evidence files; data/sighted/ statements of documents seen but not
copied (internal bundles only); data/records/case.json the case record, redacted for this bundle's audience;
data/records/exhibits.json and export.json what was included and what was withheld and why;
data/records/manifest.json the signed list; data/custody/ the ledger records, proofs, signed root and key.
"""
