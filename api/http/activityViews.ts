/**
 * Activities, notes, contacts and deliveries as the API shows them. Pure
 * mapping; a contact's view never carries its secret (the row type has none).
 */
import type { z } from "zod";
import type { activityView, contactView, deliveryView, noteView } from "../../contracts/activities";
import type { ActivityRow, NoteRow } from "../store/activities";
import type { ContactRow, DeliveryListRow } from "../store/contacts";

type ActivityView = z.output<typeof activityView>;
type NoteView = z.output<typeof noteView>;
type ContactView = z.output<typeof contactView>;
type DeliveryView = z.output<typeof deliveryView>;

export function toNoteView(n: NoteRow): NoteView {
    return { id: n.id, activity_id: n.activity_id, at: n.at.toISOString(), author: n.author, text: n.text, ticket_url: n.ticket_url };
}

export function toActivityView(a: ActivityRow & { notes: NoteRow[] }): ActivityView {
    return {
        id: a.id, database: a.database_name, kind: a.kind, planned: a.planned, at: a.at.toISOString(), actor: a.actor,
        operation_id: a.operation_id, detail: a.detail, notes: a.notes.map(toNoteView),
    };
}

export function toContactView(c: ContactRow, now: Date = new Date()): ContactView {
    return {
        id: c.id, project_id: c.project_id, name: c.name, email: c.email, webhook_url: c.webhook_url,
        expires_at: c.expires_at?.toISOString() ?? null, active: c.expires_at === null || c.expires_at.getTime() > now.getTime(),
        created_by: c.created_by, created_at: c.created_at.toISOString(), updated_at: c.updated_at.toISOString(),
    };
}

export function toDeliveryView(d: DeliveryListRow): DeliveryView {
    const waiting = d.status === "pending" || d.status === "sending";
    return {
        id: d.id, contact_id: d.contact_id, channel: d.channel, status: d.status, attempts: d.attempts,
        next_attempt_at: waiting ? d.next_attempt_at.toISOString() : null, last_error: d.last_error,
        created_at: d.created_at.toISOString(), delivered_at: d.delivered_at?.toISOString() ?? null,
        notification: { id: d.notification_id, kind: d.kind, database: d.database_name, summary: d.summary },
        attempt_log: d.attempt_log.map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
    };
}
