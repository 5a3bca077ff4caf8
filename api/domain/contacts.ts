/**
 * The rules of contacts and deliveries. Who: admins only. Tokens carry a
 * subject and a role and no project membership (http/auth.ts), and a
 * project id is whatever a database's creator typed, so "a user of the
 * project" cannot be told from anyone who once named it; letting any user
 * add a webhook to a project would let it read every notification about
 * other users' databases there. What: an email address and/or a webhook
 * URL (checked like a backup URL: https, port 443, a host name whose every
 * address is public, on DBAAS_WEBHOOK_HOSTS when that is set), an optional
 * expiry. Each contact gets a signing secret at creation, answered once;
 * `rotate_secret` issues a new one. Every change is audited (never with the
 * secret).
 */
import type { CreateContactBody, PatchContactBody } from "../../contracts/activities";
import type { NotificationsConfig } from "../config";
import type { Principal } from "../http/auth";
import { ApiProblem, invalidField, problems } from "../http/problems";
import { generateContactSecret } from "../notify/signature";
import { contactById, deleteContact, insertContact, listContacts, listDeliveries, updateContact, type ContactRow, type DeliveryListRow } from "../store/contacts";
import type { AdminStore } from "../store/store";
import { checkEgressUrl, type Resolver } from "./ssrf";

function requireAdmin(who: Principal): void {
    if (who.role !== "admin") {
        throw problems.forbidden("header.authorization", "an admin token (contacts and deliveries are managed by admins: tokens carry no project membership)");
    }
}

function contactNotFound(project: string, id: number): ApiProblem {
    const rule = `an existing contact of project "${project}"`;
    return new ApiProblem(404, "not-found", "Not found", `params.id: expected ${rule} (contact ${id} does not exist there or was deleted)`, { errors: [{ field: "params.id", rule }] });
}

/** What an audit entry says about a contact: which channels, never the secret or a webhook's path and query (they may hold a token). */
function auditDetail(project: string, c: ContactRow, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        project_id: project, contact_id: c.id, email: c.email,
        webhook_host: c.webhook_url === null ? null : new URL(c.webhook_url).host,
        expires_at: c.expires_at?.toISOString() ?? null, ...extra,
    };
}

export class Contacts {
    constructor(
        private readonly store: AdminStore,
        private readonly config: Pick<NotificationsConfig, "webhookHosts">,
        private readonly resolve: Resolver,
        private readonly now: () => Date = () => new Date(),
    ) {}

    async #checkWebhook(raw: string): Promise<string> {
        const check = await checkEgressUrl(raw, this.resolve, this.config.webhookHosts === undefined
            ? {}
            : { allowedHosts: this.config.webhookHosts, emptyAllowList: "no webhook_url: no webhook hosts are allowed on this server (DBAAS_WEBHOOK_HOSTS is empty)" });
        if (!check.ok) throw invalidField("body.webhook_url", check.rule);
        return check.url;
    }

    #expiry(raw: string): Date {
        const at = new Date(raw);
        if (at.getTime() <= this.now().getTime()) throw invalidField("body.expires_at", "a time in the future (to stop a contact now, DELETE it)");
        return at;
    }

    async create(who: Principal, project: string, body: CreateContactBody, requestId: string): Promise<{ contact: ContactRow; secret: string }> {
        requireAdmin(who);
        if (body.email === undefined && body.webhook_url === undefined) {
            throw invalidField("body.email", "an email address or a webhook_url (a contact needs at least one)");
        }
        const webhookUrl = body.webhook_url === undefined ? null : await this.#checkWebhook(body.webhook_url);
        const expiresAt = body.expires_at === undefined ? null : this.#expiry(body.expires_at);
        const secret = generateContactSecret();
        const contact = await this.store.tx(async (c) => {
            const row = await insertContact(c, { projectId: project, name: body.name ?? null, email: body.email ?? null, webhookUrl, secret, expiresAt, createdBy: who.subject });
            await this.store.appendAudit(c, { actor: who.subject, action: "contact.create", outcome: "accepted", requestId, detail: auditDetail(project, row) });
            return row;
        });
        return { contact, secret };
    }

    async list(who: Principal, project: string): Promise<ContactRow[]> {
        requireAdmin(who);
        return listContacts(this.store.pool, project);
    }

    async update(who: Principal, project: string, id: number, body: PatchContactBody, requestId: string): Promise<{ contact: ContactRow; secret?: string }> {
        requireAdmin(who);
        const webhookUrl = body.webhook_url === undefined || body.webhook_url === null ? body.webhook_url : await this.#checkWebhook(body.webhook_url);
        const expiresAt = body.expires_at === undefined || body.expires_at === null ? body.expires_at : this.#expiry(body.expires_at);
        const secret = body.rotate_secret === true ? generateContactSecret() : undefined;
        const contact = await this.store.tx(async (c) => {
            const current = await contactById(c, project, id, true);
            if (current === undefined) throw contactNotFound(project, id);
            const email = body.email === undefined ? current.email : body.email;
            const hook = webhookUrl === undefined ? current.webhook_url : webhookUrl;
            if (email === null && hook === null) throw invalidField("body.email", "an email address or a webhook_url left on the contact (to remove it, DELETE it)");
            const row = await updateContact(c, id, {
                ...(body.name === undefined ? {} : { name: body.name }),
                ...(body.email === undefined ? {} : { email: body.email }),
                ...(webhookUrl === undefined ? {} : { webhookUrl }),
                ...(expiresAt === undefined ? {} : { expiresAt }),
                ...(secret === undefined ? {} : { secret }),
            });
            await this.store.appendAudit(c, { actor: who.subject, action: "contact.update", outcome: "accepted", requestId, detail: auditDetail(project, row, { secret_rotated: secret !== undefined }) });
            return row;
        });
        return secret === undefined ? { contact } : { contact, secret };
    }

    async remove(who: Principal, project: string, id: number, requestId: string): Promise<void> {
        requireAdmin(who);
        await this.store.tx(async (c) => {
            const current = await contactById(c, project, id, true);
            if (current === undefined) throw contactNotFound(project, id);
            await deleteContact(c, id);
            await this.store.appendAudit(c, { actor: who.subject, action: "contact.delete", outcome: "accepted", requestId, detail: auditDetail(project, current) });
        });
    }

    async deliveries(who: Principal, project: string, page: { before?: number; limit: number }): Promise<{ rows: DeliveryListRow[]; next: number | null }> {
        requireAdmin(who);
        const rows = await listDeliveries(this.store.pool, project, { ...(page.before === undefined ? {} : { before: page.before }), limit: page.limit + 1 });
        const shown = rows.slice(0, page.limit);
        return { rows: shown, next: rows.length > page.limit ? (shown[shown.length - 1]?.id ?? null) : null };
    }
}
