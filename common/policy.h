/*  policy: the written collection policy as a business owner writes it
    (deploy/POLICY.md describes the format for people), parsed into a
    struct and rendered as JSON (`params_json`, the schema is in
    proto/PROTOCOL.md and below). Shared by recoupd, which stores every
    loaded policy as a numbered version, and the `recoup` client, which
    checks a file before sending it.

    The parser is forgiving about layout (blank lines, comments, aligned
    columns, upper or lower case words) and strict about meaning: an
    unknown section or key, a key given twice, a missing key, a number
    out of range, an unknown channel, tone or role, or steps out of
    order are errors that name the line.                                 */
#ifndef RECOUP_POLICY_H_COMMON
#define RECOUP_POLICY_H_COMMON

#include <stddef.h>
#include <stdint.h>

#include "terms.h"

#define POLICY_TEXT_MAX 65536       //  bytes of a policy file
#define POLICY_STEPS_MAX 64         //  steps in one policy
#define POLICY_NAME_MAX 48          //  step name, NUL included
#define POLICY_ACTION_MAX 201       //  step action text, NUL included
#define POLICY_ERROR_MAX 256        //  a parse error message
#define POLICY_MESSAGE_MAX 201      //  a [messages] value, NUL included
#define POLICY_FEE_AMOUNTS_MAX 8    //  fixed late fee amounts (currencies)

//  One step of the cadence.
typedef struct {
    char name [POLICY_NAME_MAX];    //  [a-z][a-z0-9_]*, unique
    const char *anchor;             //  "issue" or "due" (static)
    int offset_days;                //  days after the anchor (negative: before)
    int day;                        //  days after issue on the default terms
    int or_unanswered;              //  also due after this many unanswered
                                    //  reminders (0: no such condition)
    const char *channel;            //  email, phone, letter, certified_letter,
                                    //  sales_flag, credit_hold, review (static)
    const char *tone;               //  friendly, firm, direct, final, or "" (static)
    const char *assignee;           //  auto, collector, manager, sales (static)
    int late_fee;                   //  charges the policy's late fee
    char action [POLICY_ACTION_MAX];    //  what it asks, in words
    int line;                       //  line of the file it is on
} policy_step_t;

//  A fixed late fee in one currency ("" = any currency it fits).
typedef struct {
    char currency [4];
    char amount [24];               //  as written, "25.00"
} policy_fee_amount_t;

//  Everything a policy file says.
typedef struct {
    char terms_text [TERMS_TEXT_MAX];   //  default terms, canonical ("net 30")
    terms_t terms;                  //  ... taken apart
    const char *late_fee_kind;      //  "none", "fixed", "percent" (static)
    int late_fee_bp;                //  percent: basis points of the open
                                    //  balance (1.5% = 150)
    policy_fee_amount_t late_fee_amounts [POLICY_FEE_AMOUNTS_MAX];  //  fixed
    size_t n_late_fee_amounts;      //  ... used
    char late_fee_at [512];         //  the steps that charge it, as written
    int hours_start;                //  contact window start, minutes after midnight
    int hours_end;                  //  ... end (after start; 24:00 allowed)
    int weekdays_only;              //  no contact on Saturday and Sunday
    int attempt_gap_days;           //  minimum days between contact attempts
    int call_after_conversation_days;   //  no call this long after a conversation
    int max_calls_per_7_days;       //  call attempts in any 7 days
    int promise_grace_days;         //  days after a promised date before it is broken
    int settlement_floor_percent;   //  offers below this need a manager
    char company [POLICY_MESSAGE_MAX];  //  [messages]: the business's name ("")
    char payment [POLICY_MESSAGE_MAX];  //  ... how to pay, for the reminders ("")
    char signature [POLICY_MESSAGE_MAX];    //  ... who signs them ("": "Accounts
                                        //  receivable")
    size_t n_steps;                 //  steps used
    policy_step_t steps [POLICY_STEPS_MAX]; //  in the order they happen
} policy_t;

//  The shipped default policy (deploy/policy.conf, byte for byte).
extern const char policy_default_text [];

//  Parses a policy file into *policy. Returns 0, or -1 with the line the
//  problem is on (1-based; for something missing, the line of its
//  section or the last line) in *line and what is wrong in err (no line
//  prefix: callers write "line 12: ..." or "FILE:12: ...").
int policy_parse (const char *text, policy_t *policy, int *line, char *err,
                  size_t errlen);

//  The policy as JSON, the stable `params` schema (PROTOCOL.md). Caller
//  frees.
char *policy_json (const policy_t *policy);

//  The fixed late fee in `currency` (its own amount, else the one
//  without a currency) into *minor. 0, or -1 with why in err (no amount
//  for that currency, or one it cannot hold: "25.00" in JPY).
int policy_late_fee_fixed (const policy_t *policy, const char *currency, int64_t *minor,
                           char *err, size_t errlen);

//  The fixed late fee's amounts for people: "25.00 USD, 2500 JPY".
void policy_late_fee_text (const policy_t *policy, char *out, size_t len);

//  The customer-facing payment terms in English, plain text for an
//  invoice or a web page. Caller frees.
char *policy_print_en (const policy_t *policy);

#endif
