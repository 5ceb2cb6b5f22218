/*
 * att: which Odoo attachments odoosync manages (the "documents").
 *
 * Odoo keeps much more than documents in ir.attachment. odoosync never
 * uploads, converts, renames, re-links or deletes an attachment that is:
 *   - the storage of a binary field (res_field set: image_1920, image_128, ...
 *     of partners, products, employees; Odoo hides these from searches
 *     without an `id` or `res_field` term, and shows them to the others);
 *   - public (served by Odoo to anonymous visitors: asset bundles, website
 *     media; a url attachment would break the page);
 *   - binary with a url (Odoo serves it under that url: asset bundles
 *     /web/assets/..., res.company.scss under /web/static/, web editor
 *     customisations /_custom/...);
 *   - linked to one of base's technical models (res_model "ir.*": ir.ui.view
 *     media, ir.ui.menu icons, ir.module.module, ...);
 *   - without res_model but with a res_id (not a stand-alone document).
 * Everything else is a document: a binary attachment, or a url attachment
 * (ours when its url is under the cloud URL; the planner decides that).
 *
 *     if (att_technical(type, url, res_model, res_id, res_field, is_public))
 *         leave it alone;
 */
#ifndef ODOOSYNC_ATT_H
#define ODOOSYNC_ATT_H

/*
 * Non-zero when the attachment is not a document (the list above). type is
 * "binary" or "url"; strings may be NULL (Odoo's False).
 */
int att_technical(const char *type, const char *url, const char *res_model, long res_id,
                  const char *res_field, int is_public);

#endif
