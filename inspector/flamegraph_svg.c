/*
 * flamegraph_svg.c — a flame graph of a recording, drawn here as one SVG
 * file: each frame a box as wide as its share of the samples, callers
 * below callees (the root at the bottom), same-named frames of the same
 * caller merged.  Every box has a tooltip (its <title>: name, samples,
 * share); a small script shows the box under the pointer on the bottom line,
 * searches by regular expression (highlighting the matches) and zooms into a box on a click.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"
#include "recording.h"

#define WIDTH 1200.0
#define ROW 16.0
#define TOP 40.0        /* title and controls */
#define BOTTOM 24.0     /* the details line */
#define PAD 10.0

struct node {
    const char *name;
    uint64_t count;
    uint32_t *kids;
    size_t nkids, capkids;
};

struct tree {
    struct node *v;
    size_t n, cap;
    size_t depth;
};

static uint32_t new_node(struct tree *t, const char *name)
{
    xgrow(&t->v, &t->cap, t->n + 1, sizeof *t->v);
    t->v[t->n] = (struct node){name, 0, NULL, 0, 0};
    return (uint32_t)t->n++;
}

static uint32_t child(struct tree *t, uint32_t parent, const char *name)
{
    for (size_t i = 0; i < t->v[parent].nkids; i++) {
        uint32_t k = t->v[parent].kids[i];
        if (strcmp(t->v[k].name, name) == 0)
            return k;
    }
    uint32_t k = new_node(t, name);
    struct node *p = &t->v[parent];
    xgrow(&p->kids, &p->capkids, p->nkids + 1, sizeof *p->kids);
    p->kids[p->nkids++] = k;
    return k;
}

/* Names are kept as copies: the owner frame's text is reused per call. */
static void build(struct tree *t, struct recording *r, bool with_owner)
{
    struct rec_frame *fr = NULL;
    size_t cap = 0;
    new_node(t, "all");
    for (size_t i = 0; i < r->nentries; i++) {
        size_t n = rec_path(r, &r->entries[i], with_owner, &fr, &cap);
        uint32_t at = 0;
        t->v[0].count += r->entries[i].samples;
        for (size_t k = 0; k < n; k++) {
            at = child(t, at, fr[k].function);
            if (t->v[at].count == 0)
                t->v[at].name = xstrdup(fr[k].function);
            t->v[at].count += r->entries[i].samples;
        }
        if (n + 1 > t->depth)
            t->depth = n + 1;
    }
    free(fr);
}

/* A warm colour from the name, the same for the same name. */
static void colour(const char *name, char *buf, size_t len)
{
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(buf, len, "rgb(%u,%u,%u)", 205 + h % 50, 80 + (h >> 8) % 150, 30 + (h >> 16) % 55);
}

static void draw(struct bytebuf *b, const struct tree *t, uint32_t k, double x, size_t depth,
                 double scale, double total, double height)
{
    const struct node *nd = &t->v[k];
    double w = (double)nd->count * scale;
    if (w < 0.1)
        return;
    double y = height - BOTTOM - ROW * (double)(depth + 1);
    char fill[32];
    colour(nd->name, fill, sizeof fill);
    bb_str(b, "<g class=\"f\"><title>");
    bb_xml(b, nd->name);
    bb_printf(b, " (%llu samples, %.2f%%)</title>", (unsigned long long)nd->count,
              100.0 * (double)nd->count / total);
    bb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                 "rx=\"2\"/>", x, y, w, ROW - 1, k == 0 ? "rgb(220,220,220)" : fill);
    size_t chars = (size_t)(w / 7);
    if (chars >= 3) {
        bb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + ROW - 4);
        size_t len = strlen(nd->name);
        char cut[512];
        if (len > chars) {
            snprintf(cut, sizeof cut, "%.*s..", (int)(chars - 2 < sizeof cut - 3 ? chars - 2
                                                                                 : sizeof cut - 3),
                     nd->name);
            bb_xml(b, cut);
        } else {
            bb_xml(b, nd->name);
        }
        bb_str(b, "</text>");
    }
    bb_str(b, "</g>\n");
    double cx = x;
    for (size_t i = 0; i < nd->nkids; i++) {
        draw(b, t, nd->kids[i], cx, depth + 1, scale, total, height);
        cx += (double)t->v[nd->kids[i]].count * scale;
    }
}

static const char script[] =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "var details, matched, boxes;\n"
    "function init() {\n"
    "  details = document.getElementById('details');\n"
    "  matched = document.getElementById('matched');\n"
    "  boxes = Array.prototype.slice.call(document.getElementsByClassName('f'));\n"
    "  boxes.forEach(function (g) {\n"
    "    var r = g.querySelector('rect');\n"
    "    g.dataset.x = r.getAttribute('x'); g.dataset.w = r.getAttribute('width');\n"
    "    g.dataset.fill = r.getAttribute('fill');\n"
    "    g.onmouseover = function () { details.textContent = g.querySelector('title')"
    ".textContent; };\n"
    "    g.onmouseout = function () { details.textContent = ' '; };\n"
    "    g.onclick = function () { zoom(g); };\n"
    "  });\n"
    "}\n"
    "function zoom(g) {\n"
    "  var x0 = +g.dataset.x, w0 = +g.dataset.w, y0 = +g.querySelector('rect')"
    ".getAttribute('y');\n"
    "  var scale = (WIDTH - 2 * PAD) / w0;\n"
    "  boxes.forEach(function (b) {\n"
    "    var r = b.querySelector('rect'), t = b.querySelector('text');\n"
    "    var x = +b.dataset.x, w = +b.dataset.w, y = +r.getAttribute('y');\n"
    "    var inside = x >= x0 - 0.01 && x + w <= x0 + w0 + 0.01 || y >= y0;\n"
    "    b.style.display = inside ? '' : 'none';\n"
    "    var nx = PAD + (x - x0) * scale, nw = w * scale;\n"
    "    if (y >= y0 && !(x >= x0 - 0.01 && x + w <= x0 + w0 + 0.01)) { nx = PAD; nw = WIDTH"
    " - 2 * PAD; }\n"
    "    r.setAttribute('x', nx); r.setAttribute('width', nw);\n"
    "    if (t) { t.setAttribute('x', nx + 3); t.style.display = nw < 21 ? 'none' : ''; }\n"
    "  });\n"
    "}\n"
    "function reset() { boxes.forEach(function (b) { b.style.display = ''; "
    "var r = b.querySelector('rect'), t = b.querySelector('text');"
    " r.setAttribute('x', b.dataset.x); r.setAttribute('width', b.dataset.w);"
    " if (t) { t.setAttribute('x', +b.dataset.x + 3); t.style.display = ''; } }); }\n"
    "function search() {\n"
    "  var term = prompt('Search for (regular expression):', '');\n"
    "  if (term === null) return;\n"
    "  var re = new RegExp(term), hits = 0;\n"
    "  boxes.forEach(function (b) {\n"
    "    var r = b.querySelector('rect'), name = b.querySelector('title').textContent"
    ".replace(/ \\([0-9]+ samples.*$/, '');\n"
    "    var m = term !== '' && re.test(name);\n"
    "    r.setAttribute('fill', m ? 'rgb(230,0,230)' : b.dataset.fill);\n"
    "    if (m) hits++;\n"
    "  });\n"
    "  matched.textContent = term === '' ? ' ' : hits + ' frames match ' + term;\n"
    "}\n"
    "]]></script>\n";

void flamegraph_svg_write(struct recording *r, bool with_owner, struct bytebuf *b)
{
    struct tree t = {0};
    rec_symbolize(r);
    build(&t, r, with_owner);
    double height = TOP + BOTTOM + ROW * (double)(t.depth ? t.depth : 1) + PAD;
    double total = t.v[0].count ? (double)t.v[0].count : 1.0;
    double scale = (WIDTH - 2 * PAD) / total;
    bb_printf(b, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                 "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
                 "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" onload=\"init()\">\n",
              WIDTH, height, WIDTH, height);
    bb_printf(b, "<style>text { font-family: monospace; font-size: 12px; fill: #000; }\n"
                 ".f:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }\n"
                 "#title { font-size: 17px; } .button { cursor: pointer; fill: #336; }"
                 "</style>\n");
    bb_printf(b, "<script type=\"text/ecmascript\">var WIDTH = %.0f, PAD = %.0f;</script>\n",
              WIDTH, PAD);
    bb_str(b, script);
    bb_printf(b, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"rgb(250,250,240)\""
                 "/>\n", WIDTH, height);
    bb_printf(b, "<text id=\"title\" x=\"%.0f\" y=\"24\" text-anchor=\"middle\">", WIDTH / 2);
    bb_str(b, "goinspect record ");
    bb_xml(b, r->target);
    bb_printf(b, ": %llu samples</text>\n", (unsigned long long)r->samples);
    bb_printf(b, "<text class=\"button\" x=\"%.0f\" y=\"24\" onclick=\"reset()\">Reset zoom"
                 "</text>\n", PAD);
    bb_printf(b, "<text class=\"button\" x=\"%.0f\" y=\"24\" text-anchor=\"end\" "
                 "onclick=\"search()\">Search</text>\n", WIDTH - PAD);
    bb_printf(b, "<text id=\"matched\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\"> </text>\n",
              WIDTH - PAD, height - 8);
    bb_printf(b, "<text id=\"details\" x=\"%.0f\" y=\"%.0f\"> </text>\n", PAD, height - 8);
    if (r->nentries)
        draw(b, &t, 0, PAD, 0, scale, total, height);
    bb_str(b, "</svg>\n");
    for (size_t i = 0; i < t.n; i++) {
        if (i > 0)
            free((char *)t.v[i].name);
        free(t.v[i].kids);
    }
    free(t.v);
}
