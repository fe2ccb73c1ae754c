#!/usr/bin/env python3
"""A SAML 2.0 identity provider nobody at Vigie wrote: pysaml2 (IdentityPython) signing and
encrypting with Debian's xmlsec1, set up like ÉduConnect's Shibboleth (signed Response,
signed assertion, encrypted to the SP, RSA-SHA256, SHA-256 digests, ÉduConnect attribute
OIDs), for proxy/tests/saml_pysaml2.rs.

    idp.py WORKDIR        prints "listening PORT" once it serves 127.0.0.1:PORT

  GET  /metadata                     its metadata
  POST /configure                    JSON: sp_metadata_url (fetched now), user (eleve2d or
                                     resp2d), enc (aes128-gcm, aes256-gcm), sign_response,
                                     sign_assertion (booleans)
  GET  /sso?SAMLRequest=...          a signed AuthnRequest (checked), answered with a page
                                     posting the Response to the SP's ACS
  GET  /unsolicited?RelayState=...   an IdP-initiated login
  GET  /slo?SAMLRequest=...          the SP's LogoutRequest (checked), answered by redirect
  GET  /slo?SAMLResponse=...         the SP's answer to our LogoutRequest
  GET  /logout                       our LogoutRequest for the last login, by redirect
  GET  /state                        JSON: the last Response (XML), NameID, logouts seen
"""

import base64
import datetime
import functools
import html
import json
import os
import sys
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import saml2.entity
import saml2.sigver
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_TRANSIENT, NameID
from saml2.server import Server

ENTITY_ID = "https://idp.pysaml2.test/idp/shibboleth"
EDU = "urn:oid:1.3.6.1.4.1.20326.10.999.1."
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
CONTENT = {
    "aes128-gcm": ("http://www.w3.org/2009/xmlenc11#aes128-gcm", "aes-128"),
    "aes256-gcm": ("http://www.w3.org/2009/xmlenc11#aes256-gcm", "aes-256"),
}
USERS = {
    "eleve2d": {
        EDU + "57": ["eleve2d-pysaml2-0001"],
        EDU + "7": ["eleve2d"],
        EDU + "72": ["0350001A"],
        EDU + "73": ["2212"],
        EDU + "64": ["0f1e2d3c4b5a69788796a5b4c3d2e1f0"],
        EDU + "67": ["2010-05-17"],
        "urn:oid:2.5.4.42": ["Inès"],
        "urn:oid:2.5.4.4": ["Lefèvre"],
    },
    "resp2d": {
        EDU + "57": ["resp2d-pysaml2-0002"],
        EDU + "7": ["resp2d"],
        EDU + "67": ["1979-11-02"],
        "urn:oid:2.5.4.42": ["Karim"],
        "urn:oid:2.5.4.4": ["Benali"],
    },
}


def self_signed(workdir, name):
    """A fresh RSA-2048 key and certificate, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = os.path.join(workdir, name + ".key"), os.path.join(workdir, name + ".crt")
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


class Idp:
    def __init__(self, workdir, port):
        self.workdir = workdir
        self.base = f"http://127.0.0.1:{port}"
        self.key_file, self.cert_file = self_signed(workdir, "idp")
        self.settings = {"user": "eleve2d", "enc": "aes128-gcm", "sign_response": True, "sign_assertion": True}
        self.sp_metadata = None
        self.state = {"response": None, "name_id": None, "logouts": [], "logout_answers": []}
        self.lock = threading.Lock()
        self.server = self.build()

    def build(self):
        metadata = {"local": [self.sp_metadata]} if self.sp_metadata else {}
        conf = {
            "entityid": ENTITY_ID,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "key_file": self.key_file,
            "cert_file": self.cert_file,
            "metadata": metadata,
            "signing_algorithm": RSA_SHA256,
            "digest_algorithm": SHA256,
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(self.base + "/sso", BINDING_HTTP_REDIRECT)],
                        "single_logout_service": [(self.base + "/slo", BINDING_HTTP_REDIRECT)],
                    },
                    "want_authn_requests_signed": True,
                    "name_id_format": [NAMEID_FORMAT_TRANSIENT],
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                        }
                    },
                }
            },
        }
        return Server(config=IdPConfig().load(conf))

    def configure(self, body):
        with self.lock:
            if "sp_metadata_url" in body:
                with urllib.request.urlopen(body["sp_metadata_url"], timeout=10) as r:
                    path = os.path.join(self.workdir, "sp.xml")
                    with open(path, "wb") as f:
                        f.write(r.read())
                self.sp_metadata = path
                self.server = self.build()
            for k in ("user", "enc", "sign_response", "sign_assertion"):
                if k in body:
                    self.settings[k] = body[k]

    def sp(self):
        return next(iter(self.server.metadata.with_descriptor("spsso")))

    def respond(self, in_response_to, relay_state):
        """The auto-post page carrying a Response for the configured user."""
        uri, session_key = CONTENT[self.settings["enc"]]
        # pysaml2 hard-codes 3DES; ÉduConnect uses AES-GCM.
        saml2.entity.pre_encryption_part = functools.partial(saml2.sigver.pre_encryption_part, msg_enc=uri)
        original = saml2.sigver.SecurityContext.encrypt_assertion

        def encrypt(ctx, statement, enc_key, template, key_type=None, node_xpath=None):
            return original(ctx, statement, enc_key, template, key_type=session_key, node_xpath=node_xpath)

        saml2.sigver.SecurityContext.encrypt_assertion = encrypt
        try:
            sp = self.sp()
            acs = self.server.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)[0]["location"]
            name_id = NameID(format=NAMEID_FORMAT_TRANSIENT, text="_" + base64.b16encode(os.urandom(16)).decode().lower())
            response = self.server.create_authn_response(
                USERS[self.settings["user"]],
                in_response_to,
                acs,
                sp,
                name_id=name_id,
                authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
                sign_response=self.settings["sign_response"],
                sign_assertion=self.settings["sign_assertion"],
                encrypt_assertion=True,
                encrypt_assertion_self_contained=True,
                encrypt_cert_assertion=None,
                sign_alg=RSA_SHA256,
                digest_alg=SHA256,
            )
        finally:
            saml2.sigver.SecurityContext.encrypt_assertion = original
        xml = str(response)
        self.state.update(response=xml, name_id=name_id.text)
        fields = f'<input type="hidden" name="SAMLResponse" value="{base64.b64encode(xml.encode()).decode()}">'
        if relay_state:
            fields += f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">'
        return f'<!doctype html><html lang="fr"><body><form method="post" action="{html.escape(acs)}">{fields}<button type="submit">Continuer</button></form></body></html>'

    def redirect(self, message, destination, relay_state, response):
        info = self.server.apply_binding(BINDING_HTTP_REDIRECT, str(message), destination, relay_state, response=response, sign=True, sigalg=RSA_SHA256)
        return dict(info["headers"])["Location"]


class Handler(BaseHTTPRequestHandler):
    idp = None

    def reply(self, status, body, content_type="text/html; charset=utf-8", location=None):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("idp.py: " + fmt % args + "\n")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/configure":
            self.idp.configure(body)
            return self.reply(200, "ok", "text/plain")
        self.reply(404, "not found", "text/plain")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        idp = self.idp
        try:
            if url.path == "/metadata":
                return self.reply(200, create_metadata_string(None, idp.server.config, valid=4, sign=False).decode(), "application/samlmetadata+xml")
            if url.path == "/state":
                return self.reply(200, json.dumps(idp.state), "application/json")
            if url.path == "/sso":
                req = idp.server.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"), sigalg=q["SigAlg"], signature=q["Signature"])
                return self.reply(200, idp.respond(req.message.id, q.get("RelayState")))
            if url.path == "/unsolicited":
                return self.reply(200, idp.respond(None, q.get("RelayState")))
            if url.path == "/slo" and "SAMLRequest" in q:
                req = idp.server.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"), sigalg=q["SigAlg"], signature=q["Signature"])
                idp.state["logouts"].append(req.message.name_id.text)
                answer = idp.server.create_logout_response(req.message, [BINDING_HTTP_REDIRECT], sign_alg=RSA_SHA256, digest_alg=SHA256)
                slo = idp.server.metadata.single_logout_service(idp.sp(), BINDING_HTTP_REDIRECT, "spsso")[0]["location"]
                return self.reply(302, "", location=idp.redirect(answer, slo, q.get("RelayState"), True))
            if url.path == "/slo" and "SAMLResponse" in q:
                idp.state["logout_answers"].append(q["SAMLResponse"])
                return self.reply(200, "<p>Vous êtes déconnecté.</p>")
            if url.path == "/logout":
                slo = idp.server.metadata.single_logout_service(idp.sp(), BINDING_HTTP_REDIRECT, "spsso")[0]["location"]
                name_id = NameID(format=NAMEID_FORMAT_TRANSIENT, text=idp.state["name_id"])
                _, request = idp.server.create_logout_request(slo, idp.sp(), name_id=name_id, sign=False, sign_alg=RSA_SHA256, digest_alg=SHA256)
                return self.reply(302, "", location=idp.redirect(request, slo, None, False))
            self.reply(404, "not found", "text/plain")
        except Exception as e:  # the test reads the message
            self.reply(400, f"refused: {type(e).__name__}: {e}", "text/plain")


def main():
    workdir = sys.argv[1]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Handler.idp = Idp(workdir, httpd.server_address[1])
    print(f"listening {httpd.server_address[1]}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
