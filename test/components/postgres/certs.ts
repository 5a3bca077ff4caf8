/** A test CA and a server certificate it signs, made with the `openssl` CLI (test-only keys). */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface TestPki {
    caCertPem: string;
    serverCertPem: string;
    serverKeyPem: string;
}

/** A P-256 CA and a server certificate for `dnsNames` + 127.0.0.1 signed by it. */
export function testPki(dnsNames: readonly string[] = ["localhost"]): TestPki {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-pki-"));
    const p = (f: string) => path.join(dir, f);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
    try {
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.crt"),
            "-days", "2", "-subj", "/O=dbaas/CN=dbaas test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", `/O=dbaas/CN=${dnsNames[0] ?? "localhost"}`);
        fs.writeFileSync(p("ext.cnf"), `subjectAltName=${[...dnsNames.map((d) => `DNS:${d}`), "IP:127.0.0.1"].join(",")}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
        openssl("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-out", p("server.crt"), "-extfile", p("ext.cnf"));
        const read = (f: string) => fs.readFileSync(p(f), "utf8");
        return { caCertPem: read("ca.crt"), serverCertPem: read("server.crt"), serverKeyPem: read("server.key") };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
