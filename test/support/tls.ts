/** Real test certificates made with the `openssl` CLI (a test-only key, never used elsewhere). */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface TestCertificate {
    certPem: string;
    keyPem: string;
}

/** A self-signed P-256 certificate for `commonName` with DNS SANs (needs `openssl`). */
export function selfSignedCertificate(commonName = "dbaas.example.com", dnsNames: string[] = [commonName, "localhost"]): TestCertificate {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-cert-"));
    try {
        const key = path.join(dir, "key.pem");
        const cert = path.join(dir, "cert.pem");
        execFileSync("openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${commonName}`,
            "-addext", `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(",")},IP:127.0.0.1`,
        ], { stdio: "pipe" });
        return { certPem: fs.readFileSync(cert, "utf8"), keyPem: fs.readFileSync(key, "utf8") };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
