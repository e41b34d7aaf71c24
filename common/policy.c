/*  policy: the collection policy file parser, its JSON and its printed
    payment terms. See policy.h; the format is in deploy/POLICY.md.     */
#include "policy.h"
#include "json.h"
#include "money.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const s_channels [] = {
    "email", "phone", "letter", "certified_letter", "sales_flag", "credit_hold",
    "review", NULL
};
//  In rising order: a step's tone may not be below an earlier step's.
static const char *const s_tones [] = {
    "friendly", "firm", "direct", "final", NULL
};
static const char *const s_assignees [] = {
    "auto", "collector", "manager", "sales", NULL
};

//  Sections, in the order POLICY.md lists them.
enum {
    S_NONE = -1, S_TERMS, S_CONTACT, S_PROMISES, S_SETTLEMENT, S_MESSAGES, S_STEPS,
    S_COUNT
};
static const char *const s_sections [] = {
    "terms", "contact", "promises", "settlement", "messages", "steps", NULL
};

//  Every key, with its section; the parse state records the line each
//  was given on (0: not yet).
enum {
    K_DEFAULT, K_LATE_FEE, K_HOURS, K_WEEKDAYS_ONLY, K_ATTEMPT_GAP,
    K_CALL_AFTER, K_MAX_CALLS, K_GRACE, K_FLOOR, K_COMPANY, K_PAYMENT, K_SIGNATURE,
    K_COUNT
};
static const struct {
    int section;
    const char *name;
    int optional;               //  may be left out (the whole [messages])
} s_keys [K_COUNT] = {
    { S_TERMS, "default", 0 },
    { S_TERMS, "late_fee", 0 },
    { S_CONTACT, "hours", 0 },
    { S_CONTACT, "weekdays_only", 0 },
    { S_CONTACT, "attempt_gap_days", 0 },
    { S_CONTACT, "call_after_conversation_days", 0 },
    { S_CONTACT, "max_calls_per_7_days", 0 },
    { S_PROMISES, "grace_days", 0 },
    { S_SETTLEMENT, "floor_percent", 0 },
    { S_MESSAGES, "company", 1 },
    { S_MESSAGES, "payment", 1 },
    { S_MESSAGES, "signature", 1 },
};

//  Parse state.
typedef struct {
    policy_t *policy;           //  being filled
    int line;                   //  current line
    char *err;                  //  error text
    size_t errlen;              //  its size
    int *err_line;              //  where the error's line goes
    int section;                //  current section, S_NONE before the first
    int section_line [S_COUNT]; //  line each section starts on (0: absent)
    int key_line [K_COUNT];     //  line each key was set on (0: absent)
} s_parse_t;

//  Records an error at `line`; returns -1.
static int
s_fail (s_parse_t *self, int line, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_fail (s_parse_t *self, int line, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->err, self->errlen, format, args);
    va_end (args);
    *self->err_line = line;
    return -1;
}

//  Index of `word` in a NULL-ended list, case-insensitively, or -1.
static int
s_find (const char *const *list, const char *word)
{
    for (int i = 0; list [i]; i++)
        if (strcasecmp (list [i], word) == 0)
            return i;
    return -1;
}

//  The list as "a, b, c" (for messages).
static void
s_join (const char *const *list, char *out, size_t len)
{
    out [0] = '\0';
    size_t used = 0;
    for (int i = 0; list [i] && used < len; i++)
        used += snprintf (out + used, len - used, "%s%s", i ? ", " : "", list [i]);
}

//  Reads a whole number in [min, max] from all of `text`. Returns 0 or -1.
static int
s_int (const char *text, int min, int max, int *out)
{
    if (!*text || strlen (text) > 6)
        return -1;
    int value = 0;
    for (const char *p = text; *p; p++) {
        if (!isdigit ((unsigned char) *p))
            return -1;
        value = value * 10 + (*p - '0');
    }
    if (value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

//  Reads a decimal "12", "1.5", "25.00" with at most `decimals` places
//  into units of 10^-decimals. Returns 0 or -1.
static int
s_decimal (const char *text, int decimals, long long *out)
{
    long long value = 0;
    int digits = 0, places = -1;
    for (const char *p = text; *p; p++) {
        if (*p == '.' && places < 0 && digits > 0)
            places = 0;
        else if (isdigit ((unsigned char) *p)) {
            if (++digits > 12 || (places >= 0 && ++places > decimals))
                return -1;
            value = value * 10 + (*p - '0');
        }
        else
            return -1;
    }
    if (digits == 0 || places == 0)
        return -1;
    for (int i = places < 0 ? 0 : places; i < decimals; i++)
        value *= 10;
    *out = value;
    return 0;
}

//  Reads "HH:MM" (00:00..24:00) as minutes. Returns 0 or -1.
static int
s_clock (const char *text, int *minutes)
{
    int h, m;
    if (strlen (text) != 5 || text [2] != ':'
        || !isdigit ((unsigned char) text [0]) || !isdigit ((unsigned char) text [1])
        || !isdigit ((unsigned char) text [3]) || !isdigit ((unsigned char) text [4]))
        return -1;
    h = (text [0] - '0') * 10 + (text [1] - '0');
    m = (text [3] - '0') * 10 + (text [4] - '0');
    if (h > 24 || m > 59 || (h == 24 && m != 0))
        return -1;
    *minutes = h * 60 + m;
    return 0;
}

//  Lower-cases in place.
static void
s_lower (char *text)
{
    for (; *text; text++)
        *text = (char) tolower ((unsigned char) *text);
}

//  Strips blanks from both ends, in place.
static void
s_trim (char *text)
{
    char *start = text;
    while (*start == ' ' || *start == '\t')
        start++;
    size_t len = strlen (start);
    while (len > 0 && (start [len - 1] == ' ' || start [len - 1] == '\t'))
        len--;
    memmove (text, start, len);
    text [len] = '\0';
}

//  Takes the next blank-separated word of *cursor into word [len]
//  (lower-cased). Returns 0, or -1 when there is none or it is too long.
static int
s_word (char **cursor, char *word, size_t len)
{
    char *p = *cursor;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = 0;
    while (p [n] && p [n] != ' ' && p [n] != '\t')
        n++;
    if (n == 0 || n >= len)
        return -1;
    memcpy (word, p, n);
    word [n] = '\0';
    s_lower (word);
    p += n;
    while (*p == ' ' || *p == '\t')
        p++;
    *cursor = p;
    return 0;
}

// ---------------------------------------------------------------- keys

static int
s_set_key (s_parse_t *self, int key, char *value)
{
    policy_t *policy = self->policy;
    const char *name = s_keys [key].name;
    char err [160];
    int n;
    switch (key) {
    case K_DEFAULT:
        if (terms_parse (value, &policy->terms, policy->terms_text, err,
                         sizeof err) != 0)
            return s_fail (self, self->line, "default: %s", err);
        return 0;
    case K_LATE_FEE: {
        //  none | AMOUNT at STEP[, STEP...] | PERCENT% at STEP[, STEP...]
        s_lower (value);
        if (strcmp (value, "none") == 0) {
            policy->late_fee_kind = "none";
            return 0;
        }
        size_t whole = strlen (value);
        char *at = strstr (value, " at ");
        if (!at && whole > 3 && strcmp (value + whole - 3, " at") == 0)
            at = value + whole - 3;     //  "25.00 at" and no steps
        if (!at)
            return s_fail (self, self->line, "late_fee: write none, or a fee and the "
                           "steps that charge it (25.00 at past_due_notice, or 1.5%% "
                           "at second_notice, direct_notice), not '%s'", value);
        *at = '\0';
        char *number = value, *steps = at + 3;
        s_trim (number);
        s_trim (steps);
        long long amount;
        size_t len = strlen (number);
        if (len > 1 && number [len - 1] == '%') {
            number [len - 1] = '\0';
            s_trim (number);
            if (s_decimal (number, 2, &amount) != 0 || amount <= 0 || amount > 2500)
                return s_fail (self, self->line, "late_fee: '%s%%' is not a rate "
                               "above 0%% and at most 25%% (e.g. 1.5%%)", number);
            policy->late_fee_kind = "percent";
            policy->late_fee_bp = (int) amount;
        }
        else {
            //  "25.00" (any currency it fits), or per currency:
            //  "25.00 USD, 20.00 EUR, 2500 JPY".
            char *item = number;
            while (item) {
                char *comma = strchr (item, ',');
                if (comma)
                    *comma = '\0';
                s_trim (item);
                char *space = strpbrk (item, " \t");
                char code [4] = "";
                if (space) {
                    *space = '\0';
                    char *rest = space + 1;
                    s_trim (rest);
                    if (strlen (rest) != 3)
                        return s_fail (self, self->line, "late_fee: '%s' is not a "
                                       "currency code (e.g. 25.00 USD)", rest);
                    for (int c = 0; c < 3; c++)
                        code [c] = (char) toupper ((unsigned char) rest [c]);
                    code [3] = '\0';
                }
                if (s_decimal (item, 3, &amount) != 0 || amount <= 0)
                    return s_fail (self, self->line, "late_fee: '%s' is not an amount "
                                   "above zero (e.g. 25.00), or a rate (1.5%%)", item);
                if (*code) {
                    int64_t minor;
                    char why [160];
                    if (money_currency_exponent (code) < 0)
                        return s_fail (self, self->line, "late_fee: %s is not an ISO "
                                       "4217 currency code", code);
                    if (money_parse (item, code, NULL, &minor, why, sizeof why) != 0)
                        return s_fail (self, self->line, "late_fee: %s %s: %s", item,
                                       code, why);
                }
                for (size_t k = 0; k < policy->n_late_fee_amounts; k++)
                    if (strcmp (policy->late_fee_amounts [k].currency, code) == 0)
                        return s_fail (self, self->line, "late_fee: %s is given twice",
                                       *code ? code : "an amount without a currency");
                if (policy->n_late_fee_amounts == POLICY_FEE_AMOUNTS_MAX)
                    return s_fail (self, self->line, "late_fee: at most %d amounts",
                                   POLICY_FEE_AMOUNTS_MAX);
                policy_fee_amount_t *fee =
                    &policy->late_fee_amounts [policy->n_late_fee_amounts++];
                memcpy (fee->currency, code, sizeof fee->currency);   //  3 + NUL
                snprintf (fee->amount, sizeof fee->amount, "%.23s", item);
                item = comma ? comma + 1 : NULL;
            }
            policy->late_fee_kind = "fixed";
        }
        if (!*steps)
            return s_fail (self, self->line, "late_fee: name the steps that charge "
                           "it after 'at'");
        snprintf (policy->late_fee_at, sizeof policy->late_fee_at, "%s", steps);
        if (strlen (steps) >= sizeof policy->late_fee_at)
            return s_fail (self, self->line, "late_fee: the list of steps is longer "
                           "than %zu characters", sizeof policy->late_fee_at - 1);
        return 0;
    }
    case K_COMPANY:
    case K_PAYMENT:
    case K_SIGNATURE: {
        char *target = key == K_COMPANY ? policy->company
                     : key == K_PAYMENT ? policy->payment : policy->signature;
        if (strlen (value) >= POLICY_MESSAGE_MAX)
            return s_fail (self, self->line, "%s: at most %d characters", name,
                           POLICY_MESSAGE_MAX - 1);
        for (char *p = value; *p; p++)
            if (*p == '\t')
                *p = ' ';
        snprintf (target, POLICY_MESSAGE_MAX, "%s", value);
        return 0;
    }
    case K_HOURS: {
        char start [16] = "", end [16] = "";
        char *dash = strchr (value, '-');
        if (dash) {
            *dash = '\0';
            char *cursor = value;
            if (s_word (&cursor, start, sizeof start) != 0 || *cursor)
                start [0] = '\0';
            cursor = dash + 1;
            if (s_word (&cursor, end, sizeof end) != 0 || *cursor)
                end [0] = '\0';
        }
        if (!dash || s_clock (start, &policy->hours_start) != 0
            || s_clock (end, &policy->hours_end) != 0)
            return s_fail (self, self->line, "hours: write the window as "
                           "HH:MM-HH:MM, e.g. 08:00-21:00");
        if (policy->hours_end <= policy->hours_start)
            return s_fail (self, self->line, "hours: the window must end after "
                           "it starts (%s-%s)", start, end);
        return 0;
    }
    case K_WEEKDAYS_ONLY:
        s_lower (value);
        if (strcmp (value, "yes") == 0 || strcmp (value, "true") == 0)
            policy->weekdays_only = 1;
        else if (strcmp (value, "no") == 0 || strcmp (value, "false") == 0)
            policy->weekdays_only = 0;
        else
            return s_fail (self, self->line, "weekdays_only: write yes or no, "
                           "not '%s'", value);
        return 0;
    case K_ATTEMPT_GAP:
        if (s_int (value, 1, 365, &n) != 0)
            return s_fail (self, self->line, "%s: '%s' is not a whole number "
                           "of days from 1 to 365", name, value);
        policy->attempt_gap_days = n;
        return 0;
    case K_CALL_AFTER:
        if (s_int (value, 0, 365, &n) != 0)
            return s_fail (self, self->line, "%s: '%s' is not a whole number "
                           "of days from 0 to 365", name, value);
        policy->call_after_conversation_days = n;
        return 0;
    case K_MAX_CALLS:
        if (s_int (value, 1, 50, &n) != 0)
            return s_fail (self, self->line, "%s: '%s' is not a whole number "
                           "from 1 to 50", name, value);
        policy->max_calls_per_7_days = n;
        return 0;
    case K_GRACE:
        if (s_int (value, 0, 60, &n) != 0)
            return s_fail (self, self->line, "%s: '%s' is not a whole number "
                           "of days from 0 to 60", name, value);
        policy->promise_grace_days = n;
        return 0;
    case K_FLOOR: {
        char *pct = value + strlen (value);
        if (pct > value && pct [-1] == '%')
            *--pct = '\0';
        if (s_int (value, 0, 100, &n) != 0)
            return s_fail (self, self->line, "%s: '%s' is not a whole percent "
                           "from 0 to 100", name, value);
        policy->settlement_floor_percent = n;
        return 0;
    }
    default:
        assert (0);
        return -1;
    }
}

// ---------------------------------------------------------------- steps

//  Parses one line of [steps]:
//  NAME WHEN CHANNEL TONE WHO WHAT...
//  WHEN: "N days after|before issue|due" or "on issue|due", then
//  optionally "or N unanswered [reminders]".
static int
s_step (s_parse_t *self, char *text)
{
    policy_t *policy = self->policy;
    char word [64], names [128];
    char *cursor = text;
    if (policy->n_steps >= POLICY_STEPS_MAX)
        return s_fail (self, self->line, "at most %d steps", POLICY_STEPS_MAX);
    policy_step_t *step = &policy->steps [policy->n_steps];
    memset (step, 0, sizeof *step);
    step->line = self->line;

    s_word (&cursor, word, sizeof word);
    size_t len = strlen (word);
    int ok = len > 0 && len < POLICY_NAME_MAX && islower ((unsigned char) word [0]);
    for (size_t i = 0; ok && i < len; i++)
        ok = islower ((unsigned char) word [i]) || isdigit ((unsigned char) word [i])
             || word [i] == '_';
    if (!ok)
        return s_fail (self, self->line, "step name '%.47s' must be a word of "
                       "letters, digits and _ (at most %d), starting with a "
                       "letter, e.g. friendly_reminder", word, POLICY_NAME_MAX - 1);
    for (size_t i = 0; i < policy->n_steps; i++)
        if (strcmp (policy->steps [i].name, word) == 0)
            return s_fail (self, self->line, "step '%s' is already on line %d",
                           word, policy->steps [i].line);
    memcpy (step->name, word, len + 1);

    const char *when_help = "write when as 'N days after issue', 'N days "
                            "before due', 'N days after due' or 'on due'";
    if (s_word (&cursor, word, sizeof word) != 0)
        return s_fail (self, self->line, "step %s: %s", step->name, when_help);
    int offset = 0, sign = 1;
    if (strcmp (word, "on") != 0) {
        if (s_int (word, 0, 3650, &offset) != 0)
            return s_fail (self, self->line, "step %s: '%s' is not a number of "
                           "days from 0 to 3650; %s", step->name, word, when_help);
        if (s_word (&cursor, word, sizeof word) != 0
            || (strcmp (word, "day") != 0 && strcmp (word, "days") != 0))
            return s_fail (self, self->line, "step %s: %s", step->name, when_help);
        if (s_word (&cursor, word, sizeof word) != 0
            || (strcmp (word, "after") != 0 && strcmp (word, "before") != 0))
            return s_fail (self, self->line, "step %s: %s", step->name, when_help);
        sign = strcmp (word, "before") == 0 ? -1 : 1;
    }
    if (s_word (&cursor, word, sizeof word) != 0
        || (strcmp (word, "issue") != 0 && strcmp (word, "due") != 0))
        return s_fail (self, self->line, "step %s: %s", step->name, when_help);
    step->anchor = strcmp (word, "issue") == 0 ? "issue" : "due";
    step->offset_days = sign * offset;
    if (step->offset_days < 0 && step->anchor [0] == 'i')
        return s_fail (self, self->line, "step %s: nothing can happen before "
                       "the invoice is issued", step->name);

    if (s_word (&cursor, word, sizeof word) != 0)
        return s_fail (self, self->line, "step %s: a channel must follow when",
                       step->name);
    if (strcmp (word, "or") == 0) {
        if (s_word (&cursor, word, sizeof word) != 0
            || s_int (word, 1, 20, &step->or_unanswered) != 0
            || s_word (&cursor, word, sizeof word) != 0
            || strcmp (word, "unanswered") != 0)
            return s_fail (self, self->line, "step %s: write the condition as "
                           "'or N unanswered' (N reminders from 1 to 20 gone "
                           "unanswered)", step->name);
        if (s_word (&cursor, word, sizeof word) != 0)
            return s_fail (self, self->line, "step %s: a channel must follow "
                           "when", step->name);
        if (strcmp (word, "reminders") == 0 || strcmp (word, "reminder") == 0)
            if (s_word (&cursor, word, sizeof word) != 0)
                return s_fail (self, self->line, "step %s: a channel must "
                               "follow when", step->name);
    }
    int i = s_find (s_channels, word);
    if (i < 0) {
        s_join (s_channels, names, sizeof names);
        return s_fail (self, self->line, "unknown channel '%s' (channels: %s)",
                       word, names);
    }
    step->channel = s_channels [i];

    if (s_word (&cursor, word, sizeof word) != 0)
        return s_fail (self, self->line, "step %s: a tone (or -) must follow "
                       "the channel", step->name);
    if (strcmp (word, "-") == 0)
        step->tone = "";
    else if ((i = s_find (s_tones, word)) >= 0)
        step->tone = s_tones [i];
    else {
        s_join (s_tones, names, sizeof names);
        return s_fail (self, self->line, "unknown tone '%s' (tones: %s, or - for "
                       "none)", word, names);
    }

    if (s_word (&cursor, word, sizeof word) != 0)
        return s_fail (self, self->line, "step %s: who does it (auto, collector, "
                       "manager, sales) must follow the tone", step->name);
    if ((i = s_find (s_assignees, word)) < 0) {
        s_join (s_assignees, names, sizeof names);
        return s_fail (self, self->line, "unknown role '%s' for who does step %s "
                       "(%s)", word, step->name, names);
    }
    step->assignee = s_assignees [i];

    while (*cursor == ' ' || *cursor == '\t')
        cursor++;
    if (!*cursor)
        return s_fail (self, self->line, "step %s: say what it does after who "
                       "does it", step->name);
    if (strlen (cursor) >= POLICY_ACTION_MAX)
        return s_fail (self, self->line, "step %s: what it does must be at most "
                       "%d characters", step->name, POLICY_ACTION_MAX - 1);
    for (char *p = cursor; *p; p++)
        if (*p == '\t')
            *p = ' ';
    snprintf (step->action, sizeof step->action, "%s", cursor);
    policy->n_steps++;
    return 0;
}

// ---------------------------------------------------------------- lines

static int
s_line (s_parse_t *self, char *text)
{
    //  A comment starts at a # at the start of the line or after a blank.
    for (char *p = text; *p; p++)
        if (*p == '#' && (p == text || p [-1] == ' ' || p [-1] == '\t')) {
            *p = '\0';
            break;
        }
    while (*text == ' ' || *text == '\t')
        text++;
    char *end = text + strlen (text);
    while (end > text && (end [-1] == ' ' || end [-1] == '\t' || end [-1] == '\r'))
        *--end = '\0';
    if (!*text)
        return 0;
    for (char *p = text; *p; p++)
        if ((unsigned char) *p < 0x20 && *p != '\t')
            return s_fail (self, self->line, "control character in the line");

    if (*text == '[') {
        char name [32];
        if (end [-1] != ']' || end - text - 2 >= (long) sizeof name)
            return s_fail (self, self->line, "a section is written [name], e.g. "
                           "[steps]");
        snprintf (name, sizeof name, "%.*s", (int) (end - text - 2), text + 1);
        char *cursor = name, word [32];
        if (s_word (&cursor, word, sizeof word) != 0 || *cursor)
            word [0] = '\0';
        int section = s_find (s_sections, word);
        if (section < 0) {
            char names [128];
            s_join (s_sections, names, sizeof names);
            return s_fail (self, self->line, "unknown section [%s] (sections: %s)",
                           name, names);
        }
        if (self->section_line [section])
            return s_fail (self, self->line, "section [%s] is already on line %d",
                           s_sections [section], self->section_line [section]);
        self->section = section;
        self->section_line [section] = self->line;
        return 0;
    }
    if (self->section == S_NONE)
        return s_fail (self, self->line, "a section ([terms], [contact], "
                       "[promises], [settlement], [messages] or [steps]) must "
                       "come first");
    if (self->section == S_STEPS)
        return s_step (self, text);

    char *eq = strchr (text, '=');
    if (!eq)
        return s_fail (self, self->line, "write settings as key = value");
    *eq = '\0';
    char *cursor = text, key [48];
    if (s_word (&cursor, key, sizeof key) != 0 || *cursor)
        return s_fail (self, self->line, "write settings as key = value");
    char *value = eq + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return s_fail (self, self->line, "%s has no value", key);
    int found = -1;
    for (int k = 0; k < K_COUNT; k++)
        if (s_keys [k].section == self->section && strcmp (s_keys [k].name, key) == 0)
            found = k;
    if (found < 0) {
        char names [160] = "";
        size_t used = 0;
        for (int k = 0; k < K_COUNT; k++)
            if (s_keys [k].section == self->section)
                used += snprintf (names + used, sizeof names - used, "%s%s",
                                  used ? ", " : "", s_keys [k].name);
        return s_fail (self, self->line, "unknown key '%s' in [%s] (keys: %s)",
                       key, s_sections [self->section], names);
    }
    if (self->key_line [found])
        return s_fail (self, self->line, "%s is already set on line %d", key,
                       self->key_line [found]);
    self->key_line [found] = self->line;
    return s_set_key (self, found, value);
}

int
policy_parse (const char *text, policy_t *policy, int *line, char *err,
              size_t errlen)
{
    assert (text && policy && line && err);
    memset (policy, 0, sizeof *policy);
    s_parse_t self = { .policy = policy, .err = err, .errlen = errlen,
                       .err_line = line, .section = S_NONE };
    *line = 0;
    err [0] = '\0';
    size_t size = strlen (text);
    if (size > POLICY_TEXT_MAX)
        return s_fail (&self, 1, "the file is %zu bytes; at most %d", size,
                       POLICY_TEXT_MAX);
    char *copy = strdup (text);
    if (!copy)
        return s_fail (&self, 1, "out of memory");
    int rc = 0;
    char *start = copy;
    while (rc == 0 && *start) {
        char *nl = strchr (start, '\n');
        if (nl)
            *nl = '\0';
        self.line++;
        rc = s_line (&self, start);
        start = nl ? nl + 1 : start + strlen (start);
    }
    free (copy);
    if (rc != 0)
        return -1;
    int last = self.line ? self.line : 1;

    //  Everything must be said.
    for (int s = 0; s < S_COUNT; s++)
        if (!self.section_line [s] && s != S_MESSAGES)
            return s_fail (&self, last, "section [%s] is missing", s_sections [s]);
    for (int k = 0; k < K_COUNT; k++)
        if (!self.key_line [k] && !s_keys [k].optional)
            return s_fail (&self, self.section_line [s_keys [k].section],
                           "[%s] is missing %s", s_sections [s_keys [k].section],
                           s_keys [k].name);
    if (policy->n_steps == 0)
        return s_fail (&self, self.section_line [S_STEPS], "[steps] has no steps");

    //  Steps in the order they happen on the default terms, and a tone
    //  that never falls.
    int tone_rank = -1;
    const policy_step_t *tone_step = NULL;
    for (size_t i = 0; i < policy->n_steps; i++) {
        policy_step_t *step = &policy->steps [i];
        step->day = step->anchor [0] == 'i' ? step->offset_days
                                            : policy->terms.days + step->offset_days;
        if (step->day < 0)
            return s_fail (&self, step->line, "step %s: %d days before due is "
                           "before the invoice is issued on the default terms (%s)",
                           step->name, -step->offset_days, policy->terms_text);
        if (i > 0 && step->day < policy->steps [i - 1].day)
            return s_fail (&self, step->line, "step %s is out of order: it comes "
                           "on day %d after issue on the default terms (%s), "
                           "before step %s (line %d, day %d)", step->name,
                           step->day, policy->terms_text, policy->steps [i - 1].name,
                           policy->steps [i - 1].line, policy->steps [i - 1].day);
        if (*step->tone) {
            int rank = s_find (s_tones, step->tone);
            if (rank < tone_rank)
                return s_fail (&self, step->line, "step %s: the tone falls from "
                               "%s (step %s, line %d) to %s; it may only rise",
                               step->name, tone_step->tone, tone_step->name,
                               tone_step->line, step->tone);
            tone_rank = rank;
            tone_step = step;
        }
    }

    //  The steps that charge the late fee exist, each named once.
    if (*policy->late_fee_at) {
        char names [sizeof policy->late_fee_at];
        memcpy (names, policy->late_fee_at, sizeof names);
        for (char *name = strtok (names, ","); name; name = strtok (NULL, ",")) {
            s_trim (name);
            size_t i = 0;
            while (i < policy->n_steps && strcmp (policy->steps [i].name, name) != 0)
                i++;
            if (i == policy->n_steps)
                return s_fail (&self, self.key_line [K_LATE_FEE], "late_fee: there "
                               "is no step '%s' in [steps]", name);
            if (policy->steps [i].late_fee)
                return s_fail (&self, self.key_line [K_LATE_FEE], "late_fee: step "
                               "%s is named twice", name);
            if (policy->steps [i].anchor [0] == 'i' || policy->steps [i].offset_days <= 0)
                return s_fail (&self, self.key_line [K_LATE_FEE], "late_fee: step "
                               "%s (line %d) is not after the due date: a late fee "
                               "falls only on a late invoice", name,
                               policy->steps [i].line);
            if (policy->steps [i].or_unanswered)
                return s_fail (&self, self.key_line [K_LATE_FEE], "late_fee: step "
                               "%s (line %d) may come early (or %d unanswered): a "
                               "late fee needs a step on a fixed day after the due "
                               "date", name, policy->steps [i].line,
                               policy->steps [i].or_unanswered);
            policy->steps [i].late_fee = 1;
        }
    }
    return 0;
}

// ---------------------------------------------------------------- JSON

char *
policy_json (const policy_t *policy)
{
    strbuf_t out;
    strbuf_init (&out);
    strbuf_puts (&out, "{\"format\": 1, \"terms\": {\"default\": ");
    json_string (&out, policy->terms_text);
    strbuf_printf (&out, ", \"days\": %d, \"discount_bp\": %d, "
                   "\"discount_days\": %d, \"late_fee\": {\"kind\": \"%s\"",
                   policy->terms.days, policy->terms.discount_bp,
                   policy->terms.discount_days, policy->late_fee_kind);
    if (strcmp (policy->late_fee_kind, "percent") == 0)
        strbuf_printf (&out, ", \"basis_points\": %d", policy->late_fee_bp);
    else if (strcmp (policy->late_fee_kind, "fixed") == 0) {
        strbuf_puts (&out, ", \"amounts\": [");
        for (size_t k = 0; k < policy->n_late_fee_amounts; k++) {
            strbuf_printf (&out, "%s{\"currency\": ", k ? ", " : "");
            json_string (&out, policy->late_fee_amounts [k].currency);
            strbuf_puts (&out, ", \"amount\": ");
            json_string (&out, policy->late_fee_amounts [k].amount);
            strbuf_puts (&out, "}");
        }
        strbuf_puts (&out, "]");
    }
    if (strcmp (policy->late_fee_kind, "none") != 0) {
        strbuf_puts (&out, ", \"steps\": [");
        int listed = 0;
        for (size_t i = 0; i < policy->n_steps; i++)
            if (policy->steps [i].late_fee)
                strbuf_printf (&out, "%s\"%s\"", listed++ ? ", " : "",
                               policy->steps [i].name);
        strbuf_puts (&out, "]");
    }
    strbuf_printf (&out, "}}, \"contact\": {\"hours_start\": \"%02d:%02d\", "
                   "\"hours_end\": \"%02d:%02d\", \"weekdays_only\": %s, "
                   "\"attempt_gap_days\": %d, \"call_after_conversation_days\": %d, "
                   "\"max_calls_per_7_days\": %d}, ",
                   policy->hours_start / 60, policy->hours_start % 60,
                   policy->hours_end / 60, policy->hours_end % 60,
                   policy->weekdays_only ? "true" : "false",
                   policy->attempt_gap_days, policy->call_after_conversation_days,
                   policy->max_calls_per_7_days);
    strbuf_printf (&out, "\"promises\": {\"grace_days\": %d}, "
                   "\"settlement\": {\"floor_percent\": %d}, \"messages\": {\"company\": ",
                   policy->promise_grace_days, policy->settlement_floor_percent);
    json_string (&out, policy->company);
    strbuf_puts (&out, ", \"payment\": ");
    json_string (&out, policy->payment);
    strbuf_puts (&out, ", \"signature\": ");
    json_string (&out, policy->signature);
    strbuf_puts (&out, "}, \"steps\": [");
    for (size_t i = 0; i < policy->n_steps; i++) {
        const policy_step_t *step = &policy->steps [i];
        strbuf_printf (&out, "%s{\"name\": \"%s\", \"anchor\": \"%s\", "
                       "\"offset_days\": %d, \"day\": %d, \"or_unanswered\": %d, "
                       "\"channel\": \"%s\", \"tone\": \"%s\", \"assignee\": \"%s\", "
                       "\"action\": ", i ? ", " : "", step->name, step->anchor,
                       step->offset_days, step->day, step->or_unanswered,
                       step->channel, step->tone, step->assignee);
        json_string (&out, step->action);
        strbuf_puts (&out, "}");
    }
    strbuf_puts (&out, "]}");
    return out.data;
}

// ---------------------------------------------------------------- print

//  "1.5" from basis points 150; "2" from 200.
static void
s_percent (int bp, char *out, size_t len)
{
    if (bp % 100 == 0)
        snprintf (out, len, "%d", bp / 100);
    else if (bp % 10 == 0)
        snprintf (out, len, "%d.%d", bp / 100, (bp % 100) / 10);
    else
        snprintf (out, len, "%d.%02d", bp / 100, bp % 100);
}

//  When a step happens, for a customer: "3 days before the due date".
static void
s_when (const policy_step_t *step, char *out, size_t len)
{
    const char *anchor = step->anchor [0] == 'i' ? "the invoice date" : "the due date";
    int days = abs (step->offset_days);
    if (days == 0)
        snprintf (out, len, "On %s", anchor);
    else
        snprintf (out, len, "%d day%s %s %s", days, days == 1 ? "" : "s",
                  step->offset_days < 0 ? "before" : "after", anchor);
}

char *
policy_print_en (const policy_t *policy)
{
    strbuf_t out;
    strbuf_init (&out);
    char pct [16];
    strbuf_puts (&out, "PAYMENT TERMS\n\n");
    if (policy->terms.days == 0)
        strbuf_puts (&out, "Invoices are due on receipt.\n");
    else
        strbuf_printf (&out, "Invoices are due %d days after the invoice date "
                       "(%s).\n", policy->terms.days, policy->terms_text);
    if (policy->terms.discount_bp > 0) {
        s_percent (policy->terms.discount_bp, pct, sizeof pct);
        strbuf_printf (&out, "Early payment: you may deduct %s%% of the invoice "
                       "total if we receive payment within %d days of the "
                       "invoice date.\n", pct, policy->terms.discount_days);
    }
    if (strcmp (policy->late_fee_kind, "none") != 0) {
        char fee [POLICY_FEE_AMOUNTS_MAX * 32 + 64];
        if (strcmp (policy->late_fee_kind, "percent") == 0) {
            s_percent (policy->late_fee_bp, pct, sizeof pct);
            snprintf (fee, sizeof fee, "%s%% of the amount then unpaid", pct);
        }
        else
            policy_late_fee_text (policy, fee, sizeof fee);
        strbuf_printf (&out, "Late payment: where your agreement with us provides "
                       "for late fees, a fee of %s is added to an invoice that is "
                       "still unpaid ", fee);
        int listed = 0, count = 0;
        for (size_t i = 0; i < policy->n_steps; i++)
            count += policy->steps [i].late_fee;
        for (size_t i = 0; i < policy->n_steps; i++) {
            if (!policy->steps [i].late_fee)
                continue;
            listed++;
            strbuf_printf (&out, "%s%d day%s", listed == 1 ? ""
                           : listed == count ? " and " : ", ",
                           policy->steps [i].offset_days,
                           policy->steps [i].offset_days == 1 ? "" : "s");
        }
        strbuf_printf (&out, " after its due date; each fee at most once per "
                       "invoice.\n");
    }
    else
        strbuf_puts (&out, "We do not charge late fees.\n");

    strbuf_puts (&out, "\nWHAT HAPPENS WHEN AN INVOICE IS LATE\n\n");
    char when [64];
    int printed = 0;
    for (size_t i = 0; i < policy->n_steps; i++) {
        const policy_step_t *step = &policy->steps [i];
        const char *channel = step->channel;
        s_when (step, when, sizeof when);
        if (strcmp (channel, "email") == 0 || strcmp (channel, "letter") == 0
            || strcmp (channel, "certified_letter") == 0
            || strcmp (channel, "phone") == 0) {
            const char *by = strcmp (channel, "email") == 0 ? "by email"
                           : strcmp (channel, "letter") == 0 ? "by post"
                           : strcmp (channel, "phone") == 0 ? "by telephone"
                           : "by certified letter";
            strbuf_printf (&out, "- %s: %s (%s).\n", when, step->action, by);
            printed++;
        }
        else if (strcmp (channel, "credit_hold") == 0) {
            strbuf_printf (&out, "- %s: if the account is still unpaid, we put it "
                           "on credit hold: new orders only against payment in "
                           "advance, until the account is up to date.\n", when);
            printed++;
        }
        else if (strcmp (channel, "review") == 0
                 && (strstr (step->name, "agency") || strstr (step->action, "agency"))) {
            strbuf_printf (&out, "- %s: we may refer the account to a collection "
                           "agency.\n", when);
            printed++;
        }
        //  Other steps (sales_flag, internal reviews) are ours alone.
    }
    if (!printed)
        strbuf_puts (&out, "We contact you about any invoice not paid by its "
                     "due date.\n");
    strbuf_printf (&out, "\nWe contact you between %02d:%02d and %02d:%02d your "
                   "time%s, and if you promise a payment date we hold off "
                   "until then. If you cannot pay in full, talk to us: we can "
                   "agree a payment plan.\n",
                   policy->hours_start / 60, policy->hours_start % 60,
                   policy->hours_end / 60, policy->hours_end % 60,
                   policy->weekdays_only ? ", Monday to Friday" : "");
    return out.data;
}

void
policy_late_fee_text (const policy_t *policy, char *out, size_t len)
{
    size_t used = 0;
    out [0] = '\0';
    for (size_t k = 0; k < policy->n_late_fee_amounts && used < len; k++) {
        const policy_fee_amount_t *fee = &policy->late_fee_amounts [k];
        used += (size_t) snprintf (out + used, len - used, "%s%s%s%s", k ? ", " : "",
                                   fee->amount, *fee->currency ? " " : "",
                                   fee->currency);
    }
}

int
policy_late_fee_fixed (const policy_t *policy, const char *currency, int64_t *minor,
                       char *err, size_t errlen)
{
    const policy_fee_amount_t *found = NULL;
    for (size_t k = 0; k < policy->n_late_fee_amounts; k++) {
        const policy_fee_amount_t *fee = &policy->late_fee_amounts [k];
        if (strcmp (fee->currency, currency) == 0)
            found = fee;
        else if (!*fee->currency && !found)
            found = fee;
    }
    if (!found) {
        snprintf (err, errlen, "the policy's late fee has no amount in %s", currency);
        return -1;
    }
    return money_parse (found->amount, currency, NULL, minor, err, errlen);
}

//  deploy/policy.conf, byte for byte (tests/test_policy.c checks it).
const char policy_default_text [] =
    "# How we collect: the written collection policy recoupd follows.\n"
    "#\n"
    "# This is the shipped default. Edit a copy, check and load it with\n"
    "#     recoup policy load policy.conf\n"
    "# Every load becomes a new numbered version; see deploy/POLICY.md.\n"
    "# Lines starting with # are comments; so is anything after \" #\".\n"
    "\n"
    "[terms]\n"
    "default = net 30            # e.g. net 14, net 60, 2/10 net 30, due on receipt\n"
    "late_fee = none             # or: 25.00 at past_due_notice, or: 1.5% at second_notice, direct_notice\n"
    "\n"
    "[contact]\n"
    "hours = 08:00-21:00         # in the customer's own time zone\n"
    "weekdays_only = no\n"
    "attempt_gap_days = 7        # at least this many days between reminders\n"
    "call_after_conversation_days = 7    # no call for this long after we spoke\n"
    "max_calls_per_7_days = 7\n"
    "\n"
    "[promises]\n"
    "grace_days = 3              # a promise is broken this many days after its date\n"
    "\n"
    "[settlement]\n"
    "floor_percent = 70          # offers below this share of the debt need a manager\n"
    "\n"
    "# [messages]                  # optional: how the reminders are signed\n"
    "# company = Example Wholesale Ltd\n"
    "# payment = bank transfer to IBAN SE35 5000 0000 0549 1000 0003, quoting the invoice number\n"
    "# signature = Anna Berg, accounts receivable, +46 8 123 45 67\n"
    "\n"
    "[steps]\n"
    "# name              when                               channel           tone      who        what\n"
    "confirm_receipt     3 days after issue                 email             -         auto       confirm the invoice arrived and is correct\n"
    "friendly_reminder   3 days before due                  email             friendly  auto       a reminder that payment is due soon\n"
    "past_due_notice     1 day after due                    email             friendly  auto       payment is past due; please ignore if already paid\n"
    "first_call          7 days after due                   phone             friendly  collector  call to ask when payment will be made\n"
    "sales_flag          8 days after due or 3 unanswered   sales_flag        -         sales      tell the customer's sales rep the account is late\n"
    "second_notice       14 days after due                  email             firm      auto       second notice: payment is two weeks late\n"
    "second_call         14 days after due                  phone             firm      collector  call again and agree a payment date\n"
    "direct_notice       30 days after due                  email             direct    auto       payment is a month late; credit is on hold\n"
    "direct_letter       30 days after due                  letter            direct    collector  the same notice by post\n"
    "credit_hold         30 days after due                  credit_hold       -         auto       credit hold: new orders only against payment (cash only)\n"
    "final_demand        45 days after due                  certified_letter  final     collector  final demand before referral to a collection agency\n"
    "agency_review       60 days after due                  review            -         manager    decide whether to refer the account to a collection agency\n"
    "settlement_review   90 days after due                  review            -         manager    decide whether to offer a settlement\n"
    "write_off_review    120 days after due                 review            -         manager    decide whether to write off what is left, with notes\n";
