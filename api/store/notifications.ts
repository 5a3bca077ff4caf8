/**
 * One LISTEN connection per process: new progress events (for SSE), new jobs
 * (wakes the runner) and cancel requests, from any replica. Reconnects after
 * a lost connection; SSE streams and the runner also poll, so a missed
 * notification only delays, never loses, anything.
 */
import { EventEmitter } from "node:events";
import pg from "pg";
import { CHANNEL_CANCEL, CHANNEL_EVENTS, CHANNEL_JOBS } from "./queue";

export interface NotificationHubEvents {
    event: [operationId: number];
    job: [];
    cancel: [operationId: number];
}

export class NotificationHub extends EventEmitter<NotificationHubEvents> {
    #client: pg.Client | undefined;
    #closed = false;
    #retry: NodeJS.Timeout | undefined;

    constructor(private readonly connectionString: string, private readonly log: (msg: string) => void = () => undefined) {
        super();
        // Every SSE stream subscribes; the default limit of 10 is for leak detection, not a real bound here.
        this.setMaxListeners(0);
    }

    async start(): Promise<void> {
        const client = new pg.Client({ connectionString: this.connectionString, application_name: "dbaas-api-listen" });
        client.on("notification", (n) => {
            const id = Number(n.payload);
            if (n.channel === CHANNEL_EVENTS && Number.isFinite(id)) this.emit("event", id);
            else if (n.channel === CHANNEL_JOBS) this.emit("job");
            else if (n.channel === CHANNEL_CANCEL && Number.isFinite(id)) this.emit("cancel", id);
        });
        client.on("error", (e) => {
            this.log(`notification connection lost: ${e.message}`);
            this.#reconnect(client);
        });
        client.on("end", () => this.#reconnect(client));
        await client.connect();
        await client.query(`LISTEN ${CHANNEL_EVENTS}; LISTEN ${CHANNEL_JOBS}; LISTEN ${CHANNEL_CANCEL}`);
        this.#client = client;
    }

    #reconnect(old: pg.Client): void {
        if (this.#closed || this.#client !== old) return;
        this.#client = undefined;
        old.removeAllListeners();
        // A dead client may still emit errors; without a listener they would crash the process.
        old.on("error", () => undefined);
        old.end().catch(() => undefined);
        this.#retry = setTimeout(() => {
            this.start().then(() => this.emit("job")).catch((e: Error) => {
                this.log(`notification reconnect failed: ${e.message}`);
                const dead = new pg.Client();
                this.#client = dead;
                this.#reconnect(dead);
            });
        }, 1000);
        this.#retry.unref();
    }

    get connected(): boolean {
        return this.#client !== undefined;
    }

    async close(): Promise<void> {
        this.#closed = true;
        if (this.#retry) clearTimeout(this.#retry);
        const c = this.#client;
        this.#client = undefined;
        if (c) {
            c.removeAllListeners("end");
            c.removeAllListeners("error");
            c.on("error", () => undefined);
            await c.end().catch(() => undefined);
        }
    }
}
