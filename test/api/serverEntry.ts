/**
 * The API's real entry point (api/main.ts) with the engine TEST DOUBLE,
 * for the restart test, which runs it as a child process and kills it.
 * FAKE_ENGINE_DELAY_MS sets how long every operation takes; every engine
 * call is printed to stdout as `{"engineCall":...}`.
 */
import { main } from "../../api/main";
import { FakeStackEngine } from "../support/fakeEngine";

const engine = new FakeStackEngine({ delayMs: Number(process.env.FAKE_ENGINE_DELAY_MS ?? "20"), resources: 4 });
engine.onCall = (c) => process.stdout.write(`${JSON.stringify({ engineCall: { method: c.method, name: c.name } })}\n`);
main(process.env, { engine }).catch((e: Error) => {
    process.stderr.write(`serverEntry: ${e.message}\n`);
    process.exit(1);
});
