/*
 * Unit tests of which attachments are documents (common/att.h), of the flag as
 * the scans set it from an Odoo row (scan_att_from_json), and of its round trip
 * through the scan state (an incremental pass must still leave those alone).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "att.h"
#include "check.h"
#include "scan.h"
#include "state.h"

static void test_predicate(struct check_count *cc)
{
    /* documents */
    CHECK_INT(cc, att_technical("binary", NULL, "sale.order", 19, NULL, 0), 0);
    CHECK_INT(cc, att_technical("binary", "", "sale.order", 19, "", 0), 0);
    CHECK_INT(cc, att_technical("url", "https://cloud/dav/Odoo/a.pdf", "res.partner", 3, NULL, 0),
              0);
    CHECK_INT(cc, att_technical("binary", NULL, NULL, 0, NULL, 0), 0); /* stand-alone */
    CHECK_INT(cc, att_technical("binary", NULL, "", 0, NULL, 0), 0);
    /* not documents */
    CHECK_INT(cc, att_technical("binary", NULL, "res.partner", 7, "image_1920", 0), 1);
    CHECK_INT(cc, att_technical("binary", NULL, "res.partner", 7, "image_128", 0), 1);
    CHECK_INT(cc,
              att_technical("binary", "/web/assets/1/web.assets_frontend.min.css", "ir.ui.view", 0,
                            NULL, 1),
              1);
    CHECK_INT(
        cc,
        att_technical("binary", "/web/static/asset_styles_company_report.scss", NULL, 0, NULL, 0),
        1);
    CHECK_INT(cc, att_technical("binary", "/_custom/web.assets_frontend/x.scss", NULL, 0, NULL, 0),
              1);
    CHECK_INT(cc, att_technical("binary", NULL, "ir.ui.view", 0, NULL, 1), 1);
    CHECK_INT(cc, att_technical("binary", NULL, "ir.ui.menu", 12, NULL, 0), 1);
    CHECK_INT(cc, att_technical("binary", NULL, "ir.module.module", 3, NULL, 0), 1);
    CHECK_INT(cc, att_technical("binary", NULL, NULL, 0, NULL, 1), 1);  /* public */
    CHECK_INT(cc, att_technical("binary", NULL, NULL, 42, NULL, 0), 1); /* res_id, no model */
}

static void test_scan_row_and_state(struct check_count *cc)
{
    const char *rows =
        "[{\"id\": 5, \"name\": \"image_1920\", \"type\": \"binary\", \"url\": false,"
        " \"res_model\": \"res.partner\", \"res_id\": 7, \"res_field\": "
        "\"image_1920\", \"public\": false},"
        "{\"id\": 6, \"name\": \"offer.pdf\", \"type\": \"binary\", \"url\": false,"
        " \"res_model\": \"res.partner\", \"res_id\": 7, \"res_field\": false,"
        " \"public\": false},"
        "{\"id\": 8, \"name\": \"res.company.scss\", \"type\": \"binary\", \"url\":"
        " \"/web/static/asset_styles_company_report.scss\", \"res_model\": false,"
        " \"res_id\": 0, \"res_field\": false, \"public\": false}]";
    cJSON *arr = cJSON_Parse(rows);
    struct scan_state s, back;
    struct err e = ERR_INIT;
    char *text = NULL;
    int want[] = {1, 0, 1};

    state_init(&s);
    state_init(&back);
    for (int i = 0; i < 3; i++) {
        struct snap_att a;

        scan_att_from_json(cJSON_GetArrayItem(arr, i), &a);
        CHECK_INT(cc, a.technical, want[i]);
        CHECK_INT(cc, state_add_att(&s, &a, &e), 0);
    }
    s.have_atts = 1;
    CHECK_INT(cc, state_encode(&s, &text, &e), 0);
    CHECK_INT(cc, text ? state_decode(text, strlen(text), &back, &e) : -1, 0);
    CHECK_INT(cc, (long)back.natts, 3);
    for (size_t i = 0; i < back.natts && i < 3; i++)
        CHECK_INT(cc, back.atts[i].technical, want[i]);
    CHECK(cc, back.natts == 3 && back.atts[2].type == SNAP_ATT_BINARY);
    free(text);
    state_release(&s);
    state_release(&back);
    cJSON_Delete(arr);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_predicate(&cc);
    test_scan_row_and_state(&cc);
    return check_done(&cc);
}
