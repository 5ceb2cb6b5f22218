/*
 * att: see att.h.
 */
#include "att.h"

#include <string.h>

#include "banned.h"

int att_technical(const char *type, const char *url, const char *res_model, long res_id,
                  const char *res_field, int is_public)
{
    int is_url = type && strcmp(type, "url") == 0;

    if (res_field && *res_field)
        return 1;
    if (is_public)
        return 1;
    if (!is_url && url && *url)
        return 1;
    if (res_model && strncmp(res_model, "ir.", 3) == 0)
        return 1;
    if ((!res_model || !*res_model) && res_id != 0)
        return 1;
    return 0;
}
