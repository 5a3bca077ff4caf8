/**
 * `npm run token -- <subject> <role>`: prints a new random API token (shown
 * once, never stored) and the line to add to the tokens file
 * (DBAAS_TOKENS_FILE, default .dbaas-data/tokens), which holds only its
 * SHA-256. The API re-reads the file when it changes.
 */
import { generateToken, tokenLine } from "../api/http/auth";
import { ROLES, type Role } from "../contracts/api";

function usage(problem: string): never {
    process.stderr.write(`${problem}\nusage: npm run token -- <subject> <role>   (role: ${ROLES.join(" or ")})\n`);
    process.exit(2);
}

const [subject, role, ...rest] = process.argv.slice(2);
if (subject === undefined || role === undefined || rest.length > 0) usage("expected exactly two arguments");
if (!(ROLES as readonly string[]).includes(role)) usage(`role ${JSON.stringify(role)}: expected ${ROLES.join(" or ")}`);
const token = generateToken();
let line: string;
try {
    line = tokenLine(subject, role as Role, token);
} catch (e) {
    usage((e as Error).message);
}
process.stdout.write(`token (give it to ${subject}; it is not stored anywhere):\n  ${token}\nline for the tokens file:\n  ${line}\n`);
