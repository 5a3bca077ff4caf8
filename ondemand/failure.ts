/**
 * How the program fails from inside an apply (a step's exit code, a port
 * Docker did not publish): a RunError, which the language host reports as its
 * message alone, and without a stack.
 *
 * Why no stack: the language host formats every unhandled error with
 * `util.inspect(err, { colors: true })`, and on Node 20 that loops, growing a
 * string until it is too long (nodejs/node#64011, fixed in later lines), on a
 * stack frame shaped `node_modules/@scope/file`, which is what the Pulumi SDK's
 * source maps make of its own frames (`node_modules/@pulumi/output.ts`). A
 * fetch step that failed at once then took 60-120 s of CPU before the update
 * failed. The message is the whole report; a stack of SDK frames adds nothing.
 */
import * as pulumi from "@pulumi/pulumi";

export function programFailure(message: string): pulumi.RunError {
    const failure = new pulumi.RunError(message);
    failure.stack = "";
    return failure;
}
