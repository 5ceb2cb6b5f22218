/*
 * odoo_calls: the public model calls of the Odoo client (odoo_search, odoo_read,
 * odoo_create, odoo_write, odoo_unlink, odoo_display_names, odoo_call, ...; see odoo.h).
 *
 * Each call checks its arguments, connects when needed, then builds its arguments for
 * the protocol in use: JSON-RPC positional args + kwargs, or the JSON-2 named params
 * (the same names Odoo's methods take), and hands them to odoo_call_kw() (odoo.c), which
 * owns them from then on. Reads and write/unlink are passed as idempotent (retried after
 * a network failure), create and odoo_call are not. Answers are checked for the shape
 * the method promises (a list of ids, a number, a list of records) before the caller
 * sees them: anything else is ERR_PROTO.
 */
#include "odoo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odoo_int.h"

#include "banned.h"

#define DEFAULT_PAGE_SIZE 500L

/* The arguments of a call that could not be built: freed, and ERR_NOMEM. */
static int args_nomem(cJSON *pos, cJSON *kw, cJSON *named, struct err *e)
{
    cJSON_Delete(pos);
    cJSON_Delete(kw);
    cJSON_Delete(named);
    return err_set(e, ERR_NOMEM, "odoo: out of memory");
}

static cJSON *ids_array(const long *ids, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    size_t i;

    for (i = 0; a && i < n; i++) {
        cJSON *v = cJSON_CreateNumber((double)ids[i]);
        if (!v) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, v);
    }
    return a;
}

static cJSON *fields_array(const char *const *fields, int add_id)
{
    cJSON *a = cJSON_CreateArray();
    int has_id = 0;
    size_t i;

    for (i = 0; a && fields && fields[i]; i++) {
        cJSON *v = cJSON_CreateString(fields[i]);
        if (!v) {
            cJSON_Delete(a);
            return NULL;
        }
        if (strcmp(fields[i], "id") == 0)
            has_id = 1;
        cJSON_AddItemToArray(a, v);
    }
    if (a && add_id && fields && !has_id) {
        cJSON *v = cJSON_CreateString("id");
        if (!v) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, v);
    }
    return a;
}

static cJSON *domain_copy(const cJSON *domain)
{
    return domain ? cJSON_Duplicate(domain, 1) : cJSON_CreateArray();
}

/* Adds the paging keys to obj (offset/limit 0 = not sent, order NULL = not sent). */
static int add_paging(cJSON *obj, long offset, long limit, const char *order)
{
    if (offset > 0 && !cJSON_AddNumberToObject(obj, "offset", (double)offset))
        return -1;
    if (limit > 0 && !cJSON_AddNumberToObject(obj, "limit", (double)limit))
        return -1;
    if (order && *order && !cJSON_AddStringToObject(obj, "order", order))
        return -1;
    return 0;
}

/* Adds item to obj under key, taking ownership; -1 when item is NULL (no memory). */
static int add_owned(cJSON *obj, const char *key, cJSON *item)
{
    if (!obj || !item) {
        cJSON_Delete(item);
        return -1;
    }
    cJSON_AddItemToObject(obj, key, item);
    return 0;
}

static int push_owned(cJSON *arr, cJSON *item)
{
    if (!arr || !item) {
        cJSON_Delete(item);
        return -1;
    }
    cJSON_AddItemToArray(arr, item);
    return 0;
}

static int check_domain(const cJSON *domain, struct err *e)
{
    if (domain && !cJSON_IsArray(domain))
        return err_set(e, ERR_INVALID, "odoo: a domain must be a JSON array");
    return 0;
}

static int ids_from_array(const cJSON *res, long **ids, size_t *n, struct err *e)
{
    const cJSON *it;
    size_t i = 0, count;
    long *out;

    *ids = NULL;
    *n = 0;
    if (!cJSON_IsArray(res))
        return err_set(e, ERR_PROTO, "odoo: expected a list of ids");
    count = (size_t)cJSON_GetArraySize(res);
    if (count == 0)
        return 0;
    out = calloc(count, sizeof(*out));
    if (!out)
        return err_set(e, ERR_NOMEM, "odoo: out of memory");
    cJSON_ArrayForEach(it, res)
    {
        if (!cJSON_IsNumber(it)) {
            free(out);
            return err_set(e, ERR_PROTO, "odoo: expected a list of ids");
        }
        out[i++] = (long)it->valuedouble;
    }
    *ids = out;
    *n = count;
    return 0;
}

int odoo_search(struct odoo *o, const char *model, const cJSON *domain, long offset, long limit,
                const char *order, long **ids, size_t *n, struct err *e)
{
    cJSON *pos = NULL, *kw = NULL, *named = NULL, *res = NULL;
    int rc;

    *ids = NULL;
    *n = 0;
    rc = check_domain(domain, e);
    if (rc < 0)
        return rc;
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "domain", domain_copy(domain)) < 0 ||
            add_paging(named, offset, limit, order) < 0)
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        kw = cJSON_CreateObject();
        if (push_owned(pos, domain_copy(domain)) < 0 || !kw ||
            add_paging(kw, offset, limit, order) < 0)
            goto nomem;
    }
    rc = odoo_call_kw(o, model, "search", pos, kw, named, 1, &res, e);
    if (rc == 0)
        rc = ids_from_array(res, ids, n, e);
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, kw, named, e);
}

int odoo_search_count(struct odoo *o, const char *model, const cJSON *domain, long *count,
                      struct err *e)
{
    cJSON *pos = NULL, *named = NULL, *res = NULL;
    int rc;

    *count = 0;
    rc = check_domain(domain, e);
    if (rc < 0)
        return rc;
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "domain", domain_copy(domain)) < 0)
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        if (push_owned(pos, domain_copy(domain)) < 0)
            goto nomem;
    }
    rc = odoo_call_kw(o, model, "search_count", pos, NULL, named, 1, &res, e);
    if (rc == 0) {
        if (cJSON_IsNumber(res))
            *count = (long)res->valuedouble;
        else
            rc = err_set(e, ERR_PROTO, "odoo %s.search_count: not a number", model);
    }
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, NULL, named, e);
}

int odoo_search_read(struct odoo *o, const char *model, const cJSON *domain,
                     const char *const *fields, long offset, long limit, const char *order,
                     cJSON **records, struct err *e)
{
    cJSON *pos = NULL, *kw = NULL, *named = NULL;
    cJSON *target;
    int rc;

    *records = NULL;
    rc = check_domain(domain, e);
    if (rc < 0)
        return rc;
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "domain", domain_copy(domain)) < 0)
            goto nomem;
        target = named;
    } else {
        pos = cJSON_CreateArray();
        kw = cJSON_CreateObject();
        if (push_owned(pos, domain_copy(domain)) < 0 || !kw)
            goto nomem;
        target = kw;
    }
    if ((fields && add_owned(target, "fields", fields_array(fields, 0)) < 0) ||
        add_paging(target, offset, limit, order) < 0)
        goto nomem;
    return odoo_call_list(o, model, "search_read", pos, kw, named, records, e);
nomem:
    return args_nomem(pos, kw, named, e);
}

int odoo_search_read_each(struct odoo *o, const char *model, const cJSON *domain,
                          const char *const *fields, long page_size,
                          int (*cb)(const cJSON *record, void *ud), void *ud, struct err *e)
{
    const char **fl = NULL;
    cJSON *dom = NULL, *page = NULL, *term, *last_val;
    long last_id = 0;
    size_t nf = 0, i;
    int rc = 0;

    if (page_size <= 0)
        page_size = DEFAULT_PAGE_SIZE;
    rc = check_domain(domain, e);
    if (rc < 0)
        return rc;
    /* fields + "id" (NULL stays NULL: all fields, id included) */
    if (fields) {
        int has_id = 0;
        while (fields[nf]) {
            if (strcmp(fields[nf], "id") == 0)
                has_id = 1;
            nf++;
        }
        fl = calloc(nf + 2, sizeof(*fl));
        if (!fl) {
            rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
            goto out;
        }
        for (i = 0; i < nf; i++)
            fl[i] = fields[i];
        if (!has_id)
            fl[nf++] = "id";
    }
    /* domain + [["id", ">", last_id]]; the last term is updated in place per page. */
    dom = domain_copy(domain);
    term = cJSON_CreateArray();
    if (push_owned(term, cJSON_CreateString("id")) < 0 ||
        push_owned(term, cJSON_CreateString(">")) < 0 ||
        push_owned(term, cJSON_CreateNumber(0)) < 0 || push_owned(dom, term) < 0) {
        if (!dom)
            cJSON_Delete(term);
        rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
        goto out;
    }
    last_val = cJSON_GetArrayItem(term, 2);
    for (;;) {
        const cJSON *rec;
        int count = 0;

        cJSON_SetNumberValue(last_val, (double)last_id);
        rc = odoo_search_read(o, model, dom, fl, 0, page_size, "id", &page, e);
        if (rc < 0)
            goto out;
        cJSON_ArrayForEach(rec, page)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
            long idv;

            if (!cJSON_IsNumber(id)) {
                rc = err_set(e, ERR_PROTO, "odoo %s.search_read: a record without id", model);
                goto out;
            }
            idv = (long)id->valuedouble;
            if (idv <= last_id) {
                rc = err_set(e, ERR_PROTO, "odoo %s.search_read: ids not ascending (%ld)", model,
                             idv);
                goto out;
            }
            last_id = idv;
            count++;
            rc = cb(rec, ud);
            if (rc != 0)
                goto out;
        }
        cJSON_Delete(page);
        page = NULL;
        if (count < page_size)
            break;
    }
out:
    cJSON_Delete(page);
    cJSON_Delete(dom);
    free(fl);
    return rc;
}

int odoo_read(struct odoo *o, const char *model, const long *ids, size_t n,
              const char *const *fields, cJSON **records, struct err *e)
{
    cJSON *pos = NULL, *kw = NULL, *named = NULL;
    int rc;

    *records = NULL;
    if (n == 0) {
        *records = cJSON_CreateArray();
        return *records ? 0 : err_set(e, ERR_NOMEM, "odoo: out of memory");
    }
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "ids", ids_array(ids, n)) < 0 ||
            (fields && add_owned(named, "fields", fields_array(fields, 0)) < 0))
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        kw = cJSON_CreateObject();
        if (push_owned(pos, ids_array(ids, n)) < 0 || !kw ||
            (fields && add_owned(kw, "fields", fields_array(fields, 0)) < 0))
            goto nomem;
    }
    return odoo_call_list(o, model, "read", pos, kw, named, records, e);
nomem:
    return args_nomem(pos, kw, named, e);
}

int odoo_create(struct odoo *o, const char *model, const cJSON *vals, long *id, struct err *e)
{
    cJSON *pos = NULL, *named = NULL, *res = NULL, *list = NULL;
    const cJSON *v;
    int rc;

    *id = 0;
    if (!cJSON_IsObject(vals))
        return err_set(e, ERR_INVALID, "odoo %s.create: values must be an object", model);
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        list = cJSON_CreateArray();
        if (push_owned(list, cJSON_Duplicate(vals, 1)) < 0) {
            cJSON_Delete(list);
            goto nomem;
        }
        if (add_owned(named, "vals_list", list) < 0)
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        if (push_owned(pos, cJSON_Duplicate(vals, 1)) < 0)
            goto nomem;
    }
    rc = odoo_call_kw(o, model, "create", pos, NULL, named, 0, &res, e);
    if (rc < 0)
        goto out;
    v = cJSON_IsArray(res) ? cJSON_GetArrayItem(res, 0) : res;
    if (!cJSON_IsNumber(v) || v->valuedouble < 1) {
        rc = err_set(e, ERR_PROTO, "odoo %s.create: no id in the answer", model);
        goto out;
    }
    *id = (long)v->valuedouble;
out:
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, NULL, named, e);
}

int odoo_create_multi(struct odoo *o, const char *model, const cJSON *vals_list, long **ids,
                      size_t *n, struct err *e)
{
    cJSON *pos = NULL, *named = NULL, *res = NULL;
    const cJSON *it;
    int rc;

    *ids = NULL;
    *n = 0;
    if (!cJSON_IsArray(vals_list))
        return err_set(e, ERR_INVALID, "odoo %s.create: values must be a list", model);
    cJSON_ArrayForEach(it, vals_list)
    {
        if (!cJSON_IsObject(it))
            return err_set(e, ERR_INVALID, "odoo %s.create: each values must be an object", model);
    }
    if (cJSON_GetArraySize(vals_list) == 0)
        return 0;
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "vals_list", cJSON_Duplicate(vals_list, 1)) < 0)
            goto nomem;
    } else {
        /* positionally: Odoo's RPC layer looks at args[0] to tell one from many */
        pos = cJSON_CreateArray();
        if (push_owned(pos, cJSON_Duplicate(vals_list, 1)) < 0)
            goto nomem;
    }
    rc = odoo_call_kw(o, model, "create", pos, NULL, named, 0, &res, e);
    if (rc == 0)
        rc = ids_from_array(res, ids, n, e);
    if (rc == 0 && *n != (size_t)cJSON_GetArraySize(vals_list)) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        rc = err_set(e, ERR_PROTO, "odoo %s.create: %d values but a different number of ids", model,
                     cJSON_GetArraySize(vals_list));
    }
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, NULL, named, e);
}

/* write or unlink: model.method(ids[, vals]) expecting true. */
static int ids_call(struct odoo *o, const char *model, const char *method, const long *ids,
                    size_t n, const cJSON *vals, struct err *e)
{
    cJSON *pos = NULL, *named = NULL, *res = NULL;
    int rc;

    if (n == 0)
        return 0;
    if (vals && !cJSON_IsObject(vals))
        return err_set(e, ERR_INVALID, "odoo %s.%s: values must be an object", model, method);
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "ids", ids_array(ids, n)) < 0 ||
            (vals && add_owned(named, "vals", cJSON_Duplicate(vals, 1)) < 0))
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        if (push_owned(pos, ids_array(ids, n)) < 0 ||
            (vals && push_owned(pos, cJSON_Duplicate(vals, 1)) < 0))
            goto nomem;
    }
    /* write and unlink of the same values are idempotent enough to retry */
    rc = odoo_call_kw(o, model, method, pos, NULL, named, 1, &res, e);
    if (rc == 0 && cJSON_IsFalse(res))
        rc = err_set(e, ERR_SERVER, "odoo %s.%s: the server answered false", model, method);
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, NULL, named, e);
}

int odoo_write(struct odoo *o, const char *model, const long *ids, size_t n, const cJSON *vals,
               struct err *e)
{
    if (!vals)
        return err_set(e, ERR_INVALID, "odoo %s.write: no values", model);
    return ids_call(o, model, "write", ids, n, vals, e);
}

int odoo_unlink(struct odoo *o, const char *model, const long *ids, size_t n, struct err *e)
{
    return ids_call(o, model, "unlink", ids, n, NULL, e);
}

int odoo_display_names(struct odoo *o, const char *model, const long *ids, size_t n, cJSON **names,
                       struct err *e)
{
    static const char *const dn[] = {"display_name", NULL};
    cJSON *res = NULL, *map = NULL;
    const cJSON *it;
    char key[32];
    int rc;

    *names = NULL;
    map = cJSON_CreateObject();
    if (!map)
        return err_set(e, ERR_NOMEM, "odoo: out of memory");
    if (n == 0)
        goto done;
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        goto fail;
    if (o->version_major >= 17 || o->version_major == 0) {
        rc = odoo_read(o, model, ids, n, dn, &res, e);
        if (rc < 0)
            goto fail;
        cJSON_ArrayForEach(it, res)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "display_name");

            if (!cJSON_IsNumber(id))
                continue;
            snprintf(key, sizeof(key), "%ld", (long)id->valuedouble);
            if (!cJSON_AddStringToObject(map, key, cJSON_IsString(name) ? name->valuestring : ""))
                goto nomem;
        }
    } else {
        cJSON *pos = cJSON_CreateArray();

        if (push_owned(pos, ids_array(ids, n)) < 0) {
            cJSON_Delete(pos);
            goto nomem;
        }
        rc = odoo_call_kw(o, model, "name_get", pos, NULL, NULL, 1, &res, e);
        if (rc < 0)
            goto fail;
        cJSON_ArrayForEach(it, res)
        {
            const cJSON *id = cJSON_GetArrayItem(it, 0);
            const cJSON *name = cJSON_GetArrayItem(it, 1);

            if (!cJSON_IsNumber(id))
                continue;
            snprintf(key, sizeof(key), "%ld", (long)id->valuedouble);
            if (!cJSON_AddStringToObject(map, key, cJSON_IsString(name) ? name->valuestring : ""))
                goto nomem;
        }
    }
done:
    cJSON_Delete(res);
    *names = map;
    return 0;
nomem:
    rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
fail:
    cJSON_Delete(res);
    cJSON_Delete(map);
    return rc;
}

int odoo_call(struct odoo *o, const char *model, const char *method, const cJSON *ids_or_null,
              const cJSON *named_params, cJSON **result, struct err *e)
{
    cJSON *pos = NULL, *kw = NULL, *named = NULL, *res = NULL;
    int rc;

    if (result)
        *result = NULL;
    if (ids_or_null && !cJSON_IsArray(ids_or_null))
        return err_set(e, ERR_INVALID, "odoo %s.%s: ids must be an array", model, method);
    if (named_params && !cJSON_IsObject(named_params))
        return err_set(e, ERR_INVALID, "odoo %s.%s: params must be an object", model, method);
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = named_params ? cJSON_Duplicate(named_params, 1) : cJSON_CreateObject();
        if (!named || (ids_or_null && !cJSON_GetObjectItemCaseSensitive(named, "ids") &&
                       add_owned(named, "ids", cJSON_Duplicate(ids_or_null, 1)) < 0))
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        kw = named_params ? cJSON_Duplicate(named_params, 1) : cJSON_CreateObject();
        if (!pos || !kw || (ids_or_null && push_owned(pos, cJSON_Duplicate(ids_or_null, 1)) < 0))
            goto nomem;
    }
    rc = odoo_call_kw(o, model, method, pos, kw, named, 0, &res, e);
    if (rc == 0 && result) {
        *result = res;
        res = NULL;
    }
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, kw, named, e);
}
