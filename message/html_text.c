/*
 * html_text - reduce UTF-8 HTML to its text, streaming (see html_text.h).
 *
 * Interface: html_text_new(), then html_text_push() any number of times
 * with pieces split anywhere (inside a tag, a comment or an entity), then
 * html_text_finish() (which also resets the state for another document);
 * html_text_free() releases it.  Output is UTF-8 appended to the caller's
 * buf; splitting the input never changes the output.
 *
 * The tokenizer follows the HTML5 one where it matters for the visible
 * text: tags (with quoted attribute values, so a '>' inside quotes does not
 * end a tag), comments (<!-- -->, also <!--> and --!>), bogus comments
 * (<!DOCTYPE>, <?php ?>, </ x>), CDATA sections (their text is kept,
 * verbatim), script and style (raw text, dropped), title and textarea
 * (text kept, no tags inside), template (dropped, nesting counted).  "<"
 * not followed by a tag name is text.  An unterminated tag at the end is
 * dropped.  Attribute values (alt, title ...) are never text.
 *
 * Text: runs of white space collapse to one space (except inside pre,
 * listing and textarea), white space at the start of a line is dropped,
 * and NUL characters are dropped.  Block-level tags (p, br, div, tr, li,
 * h1-h6, table, title ...) give "\n" for both start and end tags; table
 * cells give a space.  Character references: decimal and hexadecimal
 * (terminated by ';' or by the first non-digit, as HTML5 does; 0, surrogates
 * and values beyond U+10FFFF give U+FFFD, 0x80-0x9F are read as
 * Windows-1252 as browsers do) and named ones from a sorted table (the
 * HTML 4 set, the ASCII punctuation names and some common HTML5 names;
 * the legacy names such as "amp" or "eacute" also without ';', with the
 * HTML5 longest-prefix rule).  &nbsp; gives U+00A0, kept as is.  Anything
 * that is not a valid reference stays literally.
 *
 * Memory: a fixed-size state; tag names are kept up to HT_TAG_MAX bytes,
 * entity names up to HT_ENT_MAX (longer: taken literally); attributes,
 * comments and script bodies are never stored, so a 1 MB attribute costs
 * nothing.  Ownership: the caller owns the struct and the buf.
 * Failure: -1 only when out failed (see buf.h); NULL from _new on ENOMEM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message/charset.h"
#include "message/html_text.h"

#define HT_TAG_MAX    16      /* tag name bytes kept (longer names match nothing) */
#define HT_ENT_MAX    32      /* entity name bytes kept */
#define HT_DEPTH_MAX  1000000u

enum ht_state {
    S_TEXT,                   /* character data */
    S_LT,                     /* after '<' */
    S_END_LT,                 /* after "</" */
    S_TAG_NAME,
    S_ATTRS,                  /* inside a tag, between attributes */
    S_BEFORE_VAL,             /* after '=' */
    S_VAL_DQ,
    S_VAL_SQ,
    S_VAL_UNQ,
    S_MD,                     /* after "<!": looking for "--" or "[CDATA[" */
    S_COMMENT,
    S_BOGUS,                  /* bogus comment: up to '>' */
    S_CDATA,
    S_RAW,                    /* script/style (dropped) or title/textarea (kept) */
    S_RAW_ENDCHK,             /* "</name" matched inside S_RAW: is it the end tag? */
    S_ENT,                    /* after '&' */
};

enum ht_mode { M_NORMAL, M_RAW, M_RCDATA };

struct html_text {
    enum ht_state state;
    enum ht_mode mode;
    enum ht_state ent_ret;    /* state to return to after an entity */
    char tag[HT_TAG_MAX + 1]; /* lowercase tag name */
    size_t taglen;
    int tag_long;             /* name longer than HT_TAG_MAX */
    int is_end;               /* end tag */
    int attr_name;            /* an attribute name has started */
    char rawname[HT_TAG_MAX + 1];
    size_t rawlen;
    char mbuf[HT_TAG_MAX + 2];/* "</name" matched so far in S_RAW, as written */
    size_t mlen;
    char md[8];               /* bytes after "<!" */
    size_t mdlen;
    unsigned dash, bang, ccount;  /* comment end detection */
    unsigned rb;              /* pending ']' in CDATA */
    char ent[HT_ENT_MAX + 1]; /* bytes after '&' */
    size_t entlen;
    uint32_t entval;          /* numeric reference value, saturated */
    unsigned entdigits;
    unsigned template_depth;
    unsigned pre_depth;
    int last_ws;              /* last output was white space or a line break */
};

struct ht_entity {
    const char *name;
    uint32_t cp;
    int legacy;               /* also recognised without ';' */
};

/* named character references, sorted by strcmp() for bsearch */
static const struct ht_entity ht_entities[] = {
    { "AElig", 0x00C6, 1 },
    { "AMP", 0x0026, 1 },
    { "Aacute", 0x00C1, 1 },
    { "Acirc", 0x00C2, 1 },
    { "Agrave", 0x00C0, 1 },
    { "Alpha", 0x0391, 0 },
    { "Aring", 0x00C5, 1 },
    { "Atilde", 0x00C3, 1 },
    { "Auml", 0x00C4, 1 },
    { "Beta", 0x0392, 0 },
    { "COPY", 0x00A9, 1 },
    { "Ccedil", 0x00C7, 1 },
    { "Chi", 0x03A7, 0 },
    { "Dagger", 0x2021, 0 },
    { "Delta", 0x0394, 0 },
    { "ETH", 0x00D0, 1 },
    { "Eacute", 0x00C9, 1 },
    { "Ecirc", 0x00CA, 1 },
    { "Egrave", 0x00C8, 1 },
    { "Epsilon", 0x0395, 0 },
    { "Eta", 0x0397, 0 },
    { "Euml", 0x00CB, 1 },
    { "GT", 0x003E, 1 },
    { "Gamma", 0x0393, 0 },
    { "Hat", 0x005E, 0 },
    { "Iacute", 0x00CD, 1 },
    { "Icirc", 0x00CE, 1 },
    { "Igrave", 0x00CC, 1 },
    { "Iota", 0x0399, 0 },
    { "Iuml", 0x00CF, 1 },
    { "Kappa", 0x039A, 0 },
    { "LT", 0x003C, 1 },
    { "Lambda", 0x039B, 0 },
    { "MediumSpace", 0x205F, 0 },
    { "Mu", 0x039C, 0 },
    { "NewLine", 0x000A, 0 },
    { "NoBreak", 0x2060, 0 },
    { "NonBreakingSpace", 0x00A0, 0 },
    { "Ntilde", 0x00D1, 1 },
    { "Nu", 0x039D, 0 },
    { "OElig", 0x0152, 0 },
    { "Oacute", 0x00D3, 1 },
    { "Ocirc", 0x00D4, 1 },
    { "Ograve", 0x00D2, 1 },
    { "Omega", 0x03A9, 0 },
    { "Omicron", 0x039F, 0 },
    { "Oslash", 0x00D8, 1 },
    { "Otilde", 0x00D5, 1 },
    { "Ouml", 0x00D6, 1 },
    { "Phi", 0x03A6, 0 },
    { "Pi", 0x03A0, 0 },
    { "Prime", 0x2033, 0 },
    { "Psi", 0x03A8, 0 },
    { "QUOT", 0x0022, 1 },
    { "REG", 0x00AE, 1 },
    { "Rho", 0x03A1, 0 },
    { "Scaron", 0x0160, 0 },
    { "Sigma", 0x03A3, 0 },
    { "THORN", 0x00DE, 1 },
    { "TRADE", 0x2122, 0 },
    { "Tab", 0x0009, 0 },
    { "Tau", 0x03A4, 0 },
    { "Theta", 0x0398, 0 },
    { "Uacute", 0x00DA, 1 },
    { "Ucirc", 0x00DB, 1 },
    { "Ugrave", 0x00D9, 1 },
    { "Upsilon", 0x03A5, 0 },
    { "Uuml", 0x00DC, 1 },
    { "Xi", 0x039E, 0 },
    { "Yacute", 0x00DD, 1 },
    { "Yuml", 0x0178, 0 },
    { "ZeroWidthSpace", 0x200B, 0 },
    { "Zeta", 0x0396, 0 },
    { "aacute", 0x00E1, 1 },
    { "acirc", 0x00E2, 1 },
    { "acute", 0x00B4, 1 },
    { "aelig", 0x00E6, 1 },
    { "agrave", 0x00E0, 1 },
    { "alefsym", 0x2135, 0 },
    { "alpha", 0x03B1, 0 },
    { "amp", 0x0026, 1 },
    { "and", 0x2227, 0 },
    { "ang", 0x2220, 0 },
    { "apos", 0x0027, 0 },
    { "aring", 0x00E5, 1 },
    { "ast", 0x002A, 0 },
    { "asymp", 0x2248, 0 },
    { "atilde", 0x00E3, 1 },
    { "auml", 0x00E4, 1 },
    { "bdquo", 0x201E, 0 },
    { "beta", 0x03B2, 0 },
    { "bigstar", 0x2605, 0 },
    { "brvbar", 0x00A6, 1 },
    { "bsol", 0x005C, 0 },
    { "bull", 0x2022, 0 },
    { "cap", 0x2229, 0 },
    { "ccedil", 0x00E7, 1 },
    { "cedil", 0x00B8, 1 },
    { "cent", 0x00A2, 1 },
    { "check", 0x2713, 0 },
    { "checkmark", 0x2713, 0 },
    { "chi", 0x03C7, 0 },
    { "circ", 0x02C6, 0 },
    { "clubs", 0x2663, 0 },
    { "colon", 0x003A, 0 },
    { "comma", 0x002C, 0 },
    { "commat", 0x0040, 0 },
    { "cong", 0x2245, 0 },
    { "copy", 0x00A9, 1 },
    { "copysr", 0x2117, 0 },
    { "crarr", 0x21B5, 0 },
    { "cross", 0x2717, 0 },
    { "cup", 0x222A, 0 },
    { "curren", 0x00A4, 1 },
    { "dArr", 0x21D3, 0 },
    { "dagger", 0x2020, 0 },
    { "darr", 0x2193, 0 },
    { "dash", 0x2010, 0 },
    { "deg", 0x00B0, 1 },
    { "delta", 0x03B4, 0 },
    { "diams", 0x2666, 0 },
    { "divide", 0x00F7, 1 },
    { "dollar", 0x0024, 0 },
    { "eacute", 0x00E9, 1 },
    { "ecirc", 0x00EA, 1 },
    { "egrave", 0x00E8, 1 },
    { "empty", 0x2205, 0 },
    { "emsp", 0x2003, 0 },
    { "ensp", 0x2002, 0 },
    { "epsilon", 0x03B5, 0 },
    { "equals", 0x003D, 0 },
    { "equiv", 0x2261, 0 },
    { "eta", 0x03B7, 0 },
    { "eth", 0x00F0, 1 },
    { "euml", 0x00EB, 1 },
    { "euro", 0x20AC, 0 },
    { "excl", 0x0021, 0 },
    { "exist", 0x2203, 0 },
    { "fnof", 0x0192, 0 },
    { "forall", 0x2200, 0 },
    { "frac12", 0x00BD, 1 },
    { "frac14", 0x00BC, 1 },
    { "frac34", 0x00BE, 1 },
    { "frasl", 0x2044, 0 },
    { "gamma", 0x03B3, 0 },
    { "ge", 0x2265, 0 },
    { "grave", 0x0060, 0 },
    { "gt", 0x003E, 1 },
    { "hArr", 0x21D4, 0 },
    { "hairsp", 0x200A, 0 },
    { "half", 0x00BD, 0 },
    { "harr", 0x2194, 0 },
    { "hearts", 0x2665, 0 },
    { "hellip", 0x2026, 0 },
    { "horbar", 0x2015, 0 },
    { "hyphen", 0x2010, 0 },
    { "iacute", 0x00ED, 1 },
    { "icirc", 0x00EE, 1 },
    { "iexcl", 0x00A1, 1 },
    { "igrave", 0x00EC, 1 },
    { "image", 0x2111, 0 },
    { "infin", 0x221E, 0 },
    { "int", 0x222B, 0 },
    { "iota", 0x03B9, 0 },
    { "iquest", 0x00BF, 1 },
    { "isin", 0x2208, 0 },
    { "iuml", 0x00EF, 1 },
    { "kappa", 0x03BA, 0 },
    { "lArr", 0x21D0, 0 },
    { "lambda", 0x03BB, 0 },
    { "lang", 0x2329, 0 },
    { "laquo", 0x00AB, 1 },
    { "larr", 0x2190, 0 },
    { "lceil", 0x2308, 0 },
    { "lcub", 0x007B, 0 },
    { "ldquo", 0x201C, 0 },
    { "le", 0x2264, 0 },
    { "lfloor", 0x230A, 0 },
    { "lowast", 0x2217, 0 },
    { "lowbar", 0x005F, 0 },
    { "loz", 0x25CA, 0 },
    { "lpar", 0x0028, 0 },
    { "lrm", 0x200E, 0 },
    { "lsaquo", 0x2039, 0 },
    { "lsqb", 0x005B, 0 },
    { "lsquo", 0x2018, 0 },
    { "lt", 0x003C, 1 },
    { "macr", 0x00AF, 1 },
    { "mdash", 0x2014, 0 },
    { "micro", 0x00B5, 1 },
    { "midast", 0x002A, 0 },
    { "middot", 0x00B7, 1 },
    { "minus", 0x2212, 0 },
    { "mu", 0x03BC, 0 },
    { "nabla", 0x2207, 0 },
    { "nbsp", 0x00A0, 1 },
    { "ndash", 0x2013, 0 },
    { "ne", 0x2260, 0 },
    { "ni", 0x220B, 0 },
    { "not", 0x00AC, 1 },
    { "notin", 0x2209, 0 },
    { "nsub", 0x2284, 0 },
    { "ntilde", 0x00F1, 1 },
    { "nu", 0x03BD, 0 },
    { "num", 0x0023, 0 },
    { "numsp", 0x2007, 0 },
    { "oacute", 0x00F3, 1 },
    { "ocirc", 0x00F4, 1 },
    { "oelig", 0x0153, 0 },
    { "ograve", 0x00F2, 1 },
    { "oline", 0x203E, 0 },
    { "omega", 0x03C9, 0 },
    { "omicron", 0x03BF, 0 },
    { "oplus", 0x2295, 0 },
    { "or", 0x2228, 0 },
    { "ordf", 0x00AA, 1 },
    { "ordm", 0x00BA, 1 },
    { "oslash", 0x00F8, 1 },
    { "otilde", 0x00F5, 1 },
    { "otimes", 0x2297, 0 },
    { "ouml", 0x00F6, 1 },
    { "para", 0x00B6, 1 },
    { "part", 0x2202, 0 },
    { "percnt", 0x0025, 0 },
    { "period", 0x002E, 0 },
    { "permil", 0x2030, 0 },
    { "perp", 0x22A5, 0 },
    { "phi", 0x03C6, 0 },
    { "phone", 0x260E, 0 },
    { "pi", 0x03C0, 0 },
    { "piv", 0x03D6, 0 },
    { "plus", 0x002B, 0 },
    { "plusmn", 0x00B1, 1 },
    { "pound", 0x00A3, 1 },
    { "prime", 0x2032, 0 },
    { "prod", 0x220F, 0 },
    { "prop", 0x221D, 0 },
    { "psi", 0x03C8, 0 },
    { "puncsp", 0x2008, 0 },
    { "quest", 0x003F, 0 },
    { "quot", 0x0022, 1 },
    { "rArr", 0x21D2, 0 },
    { "radic", 0x221A, 0 },
    { "rang", 0x232A, 0 },
    { "raquo", 0x00BB, 1 },
    { "rarr", 0x2192, 0 },
    { "rceil", 0x2309, 0 },
    { "rcub", 0x007D, 0 },
    { "rdquo", 0x201D, 0 },
    { "real", 0x211C, 0 },
    { "reg", 0x00AE, 1 },
    { "rfloor", 0x230B, 0 },
    { "rho", 0x03C1, 0 },
    { "rlm", 0x200F, 0 },
    { "rpar", 0x0029, 0 },
    { "rsaquo", 0x203A, 0 },
    { "rsqb", 0x005D, 0 },
    { "rsquo", 0x2019, 0 },
    { "sbquo", 0x201A, 0 },
    { "scaron", 0x0161, 0 },
    { "sdot", 0x22C5, 0 },
    { "sect", 0x00A7, 1 },
    { "semi", 0x003B, 0 },
    { "shy", 0x00AD, 1 },
    { "sigma", 0x03C3, 0 },
    { "sigmaf", 0x03C2, 0 },
    { "sim", 0x223C, 0 },
    { "sol", 0x002F, 0 },
    { "spades", 0x2660, 0 },
    { "star", 0x2606, 0 },
    { "starf", 0x2605, 0 },
    { "sub", 0x2282, 0 },
    { "sube", 0x2286, 0 },
    { "sum", 0x2211, 0 },
    { "sup", 0x2283, 0 },
    { "sup1", 0x00B9, 1 },
    { "sup2", 0x00B2, 1 },
    { "sup3", 0x00B3, 1 },
    { "supe", 0x2287, 0 },
    { "szlig", 0x00DF, 1 },
    { "tau", 0x03C4, 0 },
    { "there4", 0x2234, 0 },
    { "theta", 0x03B8, 0 },
    { "thetasym", 0x03D1, 0 },
    { "thinsp", 0x2009, 0 },
    { "thorn", 0x00FE, 1 },
    { "tilde", 0x02DC, 0 },
    { "times", 0x00D7, 1 },
    { "trade", 0x2122, 0 },
    { "uArr", 0x21D1, 0 },
    { "uacute", 0x00FA, 1 },
    { "uarr", 0x2191, 0 },
    { "ucirc", 0x00FB, 1 },
    { "ugrave", 0x00F9, 1 },
    { "uml", 0x00A8, 1 },
    { "upsih", 0x03D2, 0 },
    { "upsilon", 0x03C5, 0 },
    { "uuml", 0x00FC, 1 },
    { "verbar", 0x007C, 0 },
    { "vert", 0x007C, 0 },
    { "weierp", 0x2118, 0 },
    { "xi", 0x03BE, 0 },
    { "yacute", 0x00FD, 1 },
    { "yen", 0x00A5, 1 },
    { "yuml", 0x00FF, 1 },
    { "zeta", 0x03B6, 0 },
    { "zwj", 0x200D, 0 },
    { "zwnj", 0x200C, 0 },
};

/* tag properties */
#define T_BLOCK     0x01      /* "\n" for start and end tag */
#define T_CELL      0x02      /* a space */
#define T_RAW       0x04      /* content is raw text, dropped */
#define T_RCDATA    0x08      /* content is text without tags, kept */
#define T_TEMPLATE  0x10      /* content dropped, nesting counted */
#define T_PRE       0x20      /* white space kept inside */

struct ht_tag {
    const char *name;
    unsigned flags;
};

/* sorted by strcmp() for bsearch */
static const struct ht_tag ht_tags[] = {
    { "address", T_BLOCK }, { "article", T_BLOCK }, { "aside", T_BLOCK },
    { "blockquote", T_BLOCK }, { "br", T_BLOCK },
    { "caption", T_BLOCK }, { "center", T_BLOCK }, { "dd", T_BLOCK },
    { "details", T_BLOCK }, { "dialog", T_BLOCK }, { "dir", T_BLOCK },
    { "div", T_BLOCK }, { "dl", T_BLOCK }, { "dt", T_BLOCK },
    { "fieldset", T_BLOCK }, { "figcaption", T_BLOCK }, { "figure", T_BLOCK },
    { "footer", T_BLOCK }, { "form", T_BLOCK }, { "frameset", T_BLOCK },
    { "h1", T_BLOCK }, { "h2", T_BLOCK }, { "h3", T_BLOCK }, { "h4", T_BLOCK },
    { "h5", T_BLOCK }, { "h6", T_BLOCK }, { "header", T_BLOCK },
    { "hgroup", T_BLOCK }, { "hr", T_BLOCK },
    { "legend", T_BLOCK }, { "li", T_BLOCK }, { "listing", T_BLOCK | T_PRE },
    { "main", T_BLOCK }, { "menu", T_BLOCK }, { "nav", T_BLOCK },
    { "ol", T_BLOCK }, { "option", T_BLOCK }, { "p", T_BLOCK },
    { "pre", T_BLOCK | T_PRE }, { "script", T_RAW }, { "section", T_BLOCK },
    { "style", T_RAW }, { "summary", T_BLOCK }, { "table", T_BLOCK },
    { "tbody", T_BLOCK }, { "td", T_CELL }, { "template", T_TEMPLATE },
    { "textarea", T_BLOCK | T_RCDATA | T_PRE }, { "tfoot", T_BLOCK },
    { "th", T_CELL }, { "thead", T_BLOCK }, { "title", T_BLOCK | T_RCDATA },
    { "tr", T_BLOCK }, { "ul", T_BLOCK },
};

/* Windows-1252 for numeric references 0x80..0x9F (HTML5); 0: keep */
static const uint16_t ht_c1[32] = {
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
    0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

/* bytes that end a run of plain text: < & white space NUL */
static const unsigned char ht_special[256] = {
    ['<'] = 1, ['&'] = 1, [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, ['\f'] = 1, [0] = 1,
};

/* is_ws - HTML white space */
static inline int is_ws(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* is_alpha - ASCII letter */
static inline int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* is_digit - ASCII digit */
static inline int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* is_alnum - ASCII letter or digit */
static inline int is_alnum(int c)
{
    return is_alpha(c) || is_digit(c);
}

/* lower - ASCII lowercase */
static inline char lower(int c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

/* emit_text - visible text without white space */
static void emit_text(struct html_text *h, struct buf_stage *o, const void *p, size_t n)
{
    if (h->template_depth || n == 0)
        return;
    buf_stage_add(o, p, n);
    h->last_ws = 0;
}

/* emit_ws - white space: collapsed to one space outside pre */
static void emit_ws(struct html_text *h, struct buf_stage *o, char c)
{
    if (h->template_depth)
        return;
    if (h->pre_depth) {
        buf_stage_add(o, &c, 1);
        h->last_ws = 1;
    } else if (!h->last_ws) {
        buf_stage_add(o, " ", 1);
        h->last_ws = 1;
    }
}

/* emit_nl - a line break from a block-level tag */
static void emit_nl(struct html_text *h, struct buf_stage *o)
{
    if (h->template_depth)
        return;
    buf_stage_add(o, "\n", 1);
    h->last_ws = 1;
}

/* emit_cp - a code point from a character reference */
static void emit_cp(struct html_text *h, struct buf_stage *o, uint32_t cp)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x80 && is_ws((int)cp)) {
        emit_ws(h, o, (char)cp);
        return;
    }
    if (cp == 0)
        return;
    n = utf8_encode(cp, u);
    emit_text(h, o, u, n);
}

/* entity_cmp - bsearch comparison of a name with an entity */
static int entity_cmp(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct ht_entity *)elem)->name);
}

/* entity_find - the entity called name[0..len), or NULL */
static const struct ht_entity *entity_find(const char *name, size_t len)
{
    char key[HT_ENT_MAX + 1];

    memcpy(key, name, len);
    key[len] = 0;
    return bsearch(key, ht_entities, sizeof(ht_entities) / sizeof(ht_entities[0]),
                   sizeof(ht_entities[0]), entity_cmp);
}

/* tag_cmp - bsearch comparison of a name with a tag */
static int tag_cmp(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct ht_tag *)elem)->name);
}

/* tag_flags - T_* for the lowercase tag name, 0 when unknown */
static unsigned tag_flags(const char *name)
{
    const struct ht_tag *t = bsearch(name, ht_tags, sizeof(ht_tags) / sizeof(ht_tags[0]),
                                     sizeof(ht_tags[0]), tag_cmp);

    return t ? t->flags : 0;
}

/*
 * ent_named - resolve "&" + h->ent; semi says a ';' follows.  Returns 1
 * when the ';' belongs to the reference (consumed), else 0.
 */
static int ent_named(struct html_text *h, struct buf_stage *o, int semi)
{
    size_t k;

    for (k = h->entlen; k > 0; k--) {
        const struct ht_entity *e = entity_find(h->ent, k);

        if (e && ((k == h->entlen && semi) || e->legacy)) {
            emit_cp(h, o, e->cp);
            emit_text(h, o, h->ent + k, h->entlen - k);
            return k == h->entlen && semi;
        }
    }
    emit_text(h, o, "&", 1);
    emit_text(h, o, h->ent, h->entlen);
    return 0;
}

/* ent_numeric - emit the numeric reference collected in h */
static void ent_numeric(struct html_text *h, struct buf_stage *o)
{
    uint32_t v = h->entval;

    if (h->entdigits == 0) {
        emit_text(h, o, "&", 1);
        emit_text(h, o, h->ent, h->entlen);   /* "#" or "#x" */
        return;
    }
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        v = 0xFFFD;
    else if (v >= 0x80 && v <= 0x9F && ht_c1[v - 0x80])
        v = ht_c1[v - 0x80];
    emit_cp(h, o, v);
}

/*
 * ent_end - the reference ends before c (c < 0: end of input).  Returns 1
 * when c was consumed (the terminating ';').
 */
static int ent_end(struct html_text *h, struct buf_stage *o, int c)
{
    int used = 0;

    if (h->entlen == 0)
        emit_text(h, o, "&", 1);
    else if (h->ent[0] == '#') {
        ent_numeric(h, o);
        used = c == ';' && h->entdigits > 0;
    } else
        used = ent_named(h, o, c == ';');
    h->state = h->ent_ret;
    h->entlen = 0;
    return used;
}

/* ent_char - feed one byte to a reference; 1 when consumed */
static int ent_char(struct html_text *h, struct buf_stage *o, int c)
{
    if (h->entlen == 0) {
        if (c == '#' || is_alnum(c)) {
            h->ent[h->entlen++] = (char)c;
            h->entval = 0;
            h->entdigits = 0;
            return 1;
        }
        return ent_end(h, o, c);
    }
    if (h->ent[0] == '#') {
        int hex = h->entlen >= 2 && (h->ent[1] == 'x' || h->ent[1] == 'X');
        int d = hex ? hex_value(c) : (is_digit(c) ? c - '0' : -1);

        if (h->entlen == 1 && h->entdigits == 0 && (c == 'x' || c == 'X')) {
            h->ent[h->entlen++] = (char)c;
            return 1;
        }
        if (d >= 0) {
            if (h->entval <= 0x10FFFF)
                h->entval = h->entval * (hex ? 16u : 10u) + (uint32_t)d;
            if (h->entval > 0x10FFFF)
                h->entval = 0x110000;
            h->entdigits++;
            return 1;
        }
        return ent_end(h, o, c);
    }
    if (is_alnum(c) && h->entlen < HT_ENT_MAX) {
        h->ent[h->entlen++] = (char)c;
        return 1;
    }
    return ent_end(h, o, c);
}

/* tag_done - a complete tag (h->tag, h->is_end) was read */
static void tag_done(struct html_text *h, struct buf_stage *o)
{
    unsigned f;

    h->state = S_TEXT;
    if (h->mode != M_NORMAL) {
        /* the end tag of script, style, title or textarea */
        h->mode = M_NORMAL;
        memcpy(h->tag, h->rawname, h->rawlen + 1);
        h->taglen = h->rawlen;
        h->tag_long = 0;
    }
    if (h->tag_long)
        return;
    h->tag[h->taglen] = 0;
    f = tag_flags(h->tag);
    if (f & T_TEMPLATE) {
        if (!h->is_end && h->template_depth < HT_DEPTH_MAX)
            h->template_depth++;
        else if (h->is_end && h->template_depth > 0)
            h->template_depth--;
    }
    if (f & T_PRE) {
        if (!h->is_end && h->pre_depth < HT_DEPTH_MAX)
            h->pre_depth++;
        else if (h->is_end && h->pre_depth > 0)
            h->pre_depth--;
    }
    if (f & T_BLOCK)
        emit_nl(h, o);
    if (f & T_CELL)
        emit_ws(h, o, ' ');
    if (!h->is_end && (f & (T_RAW | T_RCDATA))) {
        h->mode = (f & T_RAW) ? M_RAW : M_RCDATA;
        memcpy(h->rawname, h->tag, h->taglen + 1);
        h->rawlen = h->taglen;
        h->mlen = 0;
        h->state = S_RAW;
    }
}

/* raw_mismatch - "</name" prefix in S_RAW was not the end tag */
static void raw_mismatch(struct html_text *h, struct buf_stage *o)
{
    if (h->mode == M_RCDATA)
        emit_text(h, o, h->mbuf, h->mlen);
    h->mlen = 0;
    h->state = S_RAW;
}

/* rcdata_char - one byte of title/textarea text other than '<' */
static void rcdata_char(struct html_text *h, struct buf_stage *o, int c)
{
    char ch = (char)c;

    if (c == '&') {
        h->ent_ret = S_RAW;
        h->entlen = 0;
        h->state = S_ENT;
    } else if (is_ws(c)) {
        emit_ws(h, o, ch);
    } else if (c != 0) {
        emit_text(h, o, &ch, 1);
    }
}

/* run - the tokenizer over len bytes */
static void run(struct html_text *h, const unsigned char *p, size_t len, struct buf_stage *o)
{
    const unsigned char *end = p + len;

    while (p < end) {
        int c = *p;

        switch (h->state) {
        case S_TEXT:
            if (!ht_special[c]) {
                const unsigned char *q = p + 1;

                while (q < end && !ht_special[*q])
                    q++;
                emit_text(h, o, p, (size_t)(q - p));
                p = q;
                continue;
            }
            if (c == '<')
                h->state = S_LT;
            else if (c == '&') {
                h->ent_ret = S_TEXT;
                h->entlen = 0;
                h->state = S_ENT;
            } else if (c != 0)
                emit_ws(h, o, (char)c);
            p++;
            continue;
        case S_LT:
            if (c == '!') {
                h->mdlen = 0;
                h->state = S_MD;
            } else if (c == '/') {
                h->state = S_END_LT;
            } else if (is_alpha(c)) {
                h->is_end = 0;
                h->tag[0] = lower(c);
                h->taglen = 1;
                h->tag_long = 0;
                h->attr_name = 0;
                h->state = S_TAG_NAME;
            } else if (c == '?') {
                h->state = S_BOGUS;
            } else {
                emit_text(h, o, "<", 1);
                h->state = S_TEXT;
                continue;                       /* c again as text */
            }
            p++;
            continue;
        case S_END_LT:
            if (is_alpha(c)) {
                h->is_end = 1;
                h->tag[0] = lower(c);
                h->taglen = 1;
                h->tag_long = 0;
                h->attr_name = 0;
                h->state = S_TAG_NAME;
            } else if (c == '>') {
                h->state = S_TEXT;              /* "</>" is ignored */
            } else {
                h->state = S_BOGUS;
                continue;
            }
            p++;
            continue;
        case S_TAG_NAME:
            if (is_ws(c) || c == '/')
                h->state = S_ATTRS;
            else if (c == '>')
                tag_done(h, o);
            else if (h->taglen < HT_TAG_MAX)
                h->tag[h->taglen++] = lower(c);
            else
                h->tag_long = 1;
            p++;
            continue;
        case S_ATTRS:
            if (c == '>')
                tag_done(h, o);
            else if (c == '=' && h->attr_name)
                h->state = S_BEFORE_VAL;
            else if (c == '/')
                h->attr_name = 0;
            else if (!is_ws(c))
                h->attr_name = 1;
            p++;
            continue;
        case S_BEFORE_VAL:
            if (c == '"')
                h->state = S_VAL_DQ;
            else if (c == '\'')
                h->state = S_VAL_SQ;
            else if (c == '>')
                tag_done(h, o);
            else if (!is_ws(c))
                h->state = S_VAL_UNQ;
            p++;
            continue;
        case S_VAL_DQ:
        case S_VAL_SQ: {
            const unsigned char *q = memchr(p, h->state == S_VAL_DQ ? '"' : '\'',
                                            (size_t)(end - p));

            if (q == NULL) {
                p = end;
            } else {
                h->state = S_ATTRS;
                h->attr_name = 0;
                p = q + 1;
            }
            continue;
        }
        case S_VAL_UNQ:
            if (is_ws(c)) {
                h->state = S_ATTRS;
                h->attr_name = 0;
            } else if (c == '>') {
                tag_done(h, o);
            }
            p++;
            continue;
        case S_MD:
            h->md[h->mdlen++] = (char)c;
            if (h->mdlen <= 2 && memcmp(h->md, "--", h->mdlen) == 0) {
                if (h->mdlen == 2) {
                    h->dash = h->bang = h->ccount = 0;
                    h->state = S_COMMENT;
                }
                p++;
            } else if (memcmp(h->md, "[CDATA[", h->mdlen) == 0) {
                if (h->mdlen == 7) {
                    h->rb = 0;
                    h->state = S_CDATA;
                }
                p++;
            } else {
                h->state = S_BOGUS;             /* c again, it may be '>' */
            }
            continue;
        case S_COMMENT:
            if (c != '-' && c != '>' && c != '!') {
                while (p < end && *p != '-' && *p != '>' && *p != '!')
                    p++;
                h->dash = h->bang = 0;
                h->ccount = 2;
                continue;
            }
            if (c == '-') {
                h->dash = h->dash < 2 ? h->dash + 1 : 2;
                h->bang = 0;
            } else if (c == '>') {
                if (h->dash == 2 || h->bang || h->ccount == 0 ||
                    (h->ccount == 1 && h->dash == 1)) {
                    h->state = S_TEXT;
                    p++;
                    continue;
                }
                h->dash = h->bang = 0;
            } else if (h->dash == 2 && !h->bang) {
                h->bang = 1;                    /* "--!" */
            } else {
                h->dash = h->bang = 0;
            }
            if (h->ccount < 2)
                h->ccount++;
            p++;
            continue;
        case S_BOGUS: {
            const unsigned char *q = memchr(p, '>', (size_t)(end - p));

            if (q == NULL) {
                p = end;
            } else {
                h->state = S_TEXT;
                p = q + 1;
            }
            continue;
        }
        case S_CDATA:
            if (c == ']') {
                if (h->rb < 2)
                    h->rb++;
                else
                    emit_text(h, o, "]", 1);
            } else if (c == '>' && h->rb == 2) {
                h->rb = 0;
                h->state = S_TEXT;
            } else {
                char ch = (char)c;

                emit_text(h, o, "]]", h->rb);
                h->rb = 0;
                if (is_ws(c))
                    emit_ws(h, o, ch);
                else if (c != 0)
                    emit_text(h, o, &ch, 1);
            }
            p++;
            continue;
        case S_RAW:
            if (h->mlen == 0) {
                if (c == '<') {
                    h->mbuf[h->mlen++] = '<';
                    p++;
                } else if (h->mode == M_RAW) {
                    const unsigned char *q = memchr(p, '<', (size_t)(end - p));

                    p = q ? q : end;
                } else {
                    rcdata_char(h, o, c);
                    p++;
                }
                continue;
            }
            if (h->mlen == 1 ? c == '/' : (h->mlen - 2 < h->rawlen &&
                                            lower(c) == h->rawname[h->mlen - 2])) {
                h->mbuf[h->mlen++] = (char)c;
                if (h->mlen - 2 == h->rawlen)
                    h->state = S_RAW_ENDCHK;
                p++;
            } else {
                raw_mismatch(h, o);             /* c again */
            }
            continue;
        case S_RAW_ENDCHK:
            if (is_ws(c) || c == '/' || c == '>') {
                h->is_end = 1;
                h->attr_name = 0;
                h->tag_long = 0;
                h->mlen = 0;
                h->state = S_ATTRS;
            } else {
                raw_mismatch(h, o);
            }
            continue;                           /* c again */
        case S_ENT:
            if (ent_char(h, o, c))
                p++;
            continue;
        }
        p++;            /* not reached: every state continues */
    }
}

/* html_text_new - a converter in its initial state */
struct html_text *html_text_new(void)
{
    struct html_text *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->state = S_TEXT;
    h->mode = M_NORMAL;
    h->last_ws = 1;
    return h;
}

/* html_text_push - convert len more bytes, appending text to out */
int html_text_push(struct html_text *h, const char *utf8, size_t len, struct buf *out)
{
    struct buf_stage o;

    buf_stage_init(&o, out);
    run(h, (const unsigned char *)utf8, len, &o);
    return buf_stage_flush(&o);
}

/* html_text_finish - end the document: flush what is pending, reset */
int html_text_finish(struct html_text *h, struct buf *out)
{
    struct buf_stage o;

    buf_stage_init(&o, out);
    if (h->state == S_ENT)
        ent_end(h, &o, -1);                     /* returns to S_TEXT or S_RAW */
    switch (h->state) {
    case S_LT:
        emit_text(h, &o, "<", 1);
        break;
    case S_END_LT:
        emit_text(h, &o, "</", 2);
        break;
    case S_CDATA:
        emit_text(h, &o, "]]", h->rb);
        break;
    case S_RAW:
    case S_RAW_ENDCHK:
        if (h->mode == M_RCDATA)
            emit_text(h, &o, h->mbuf, h->mlen);
        break;
    default:
        break;                                  /* unterminated tags and comments: dropped */
    }
    buf_stage_flush(&o);
    memset(h, 0, sizeof(*h));
    h->state = S_TEXT;
    h->mode = M_NORMAL;
    h->last_ws = 1;
    return o.failed ? -1 : 0;
}

/* html_text_free - release a converter (NULL is fine) */
void html_text_free(struct html_text *h)
{
    free(h);
}
