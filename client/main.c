/*  recoup: the command-line client. Global options may come anywhere:
    --identity FILE, --json, --timeout MS. Then a subcommand.            */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: recoup [--identity FILE] [--json] [--timeout MS] COMMAND ...\n"
        "\n"
        "commands:\n"
        "  keygen --out FILE --server-from IDENTITY [--user NAME]\n"
        "                            make a new identity for the same server\n"
        "  user add NAME --role ROLE --key PUBLICKEY\n"
        "  user list\n"
        "  user revoke NAME\n"
        "  status                    who you are, server version, last event\n"
        "  note post [--subject S] TEXT\n"
        "                            post a note on the team log\n"
        "  tail [--from SEQ] [--state FILE] [--count N]\n"
        "                            print events as they happen\n"
        "  customer add REF --name NAME [--email E] [--phone P] [--address A]\n"
        "           [--timezone TZ] [--language L] [--currency C] [--terms T]\n"
        "           [--credit-limit AMOUNT] [--sales-rep USER] [--collector USER]\n"
        "           [--late-fees yes|no]\n"
        "  customer update REF [same options]\n"
        "  customer show REF [--as-of DATE]\n"
        "  invoice issue NUMBER --customer REF --amount AMOUNT [--currency C]\n"
        "           [--issued DATE] [--due DATE] [--terms T]\n"
        "  invoice credit NUMBER --amount AMOUNT [--currency C] [--date DATE]\n"
        "           [--memo TEXT]\n"
        "  payment post --customer REF --reference REF --amount AMOUNT\n"
        "           [--currency C] [--received DATE] [--method M]\n"
        "           [--invoice NUMBER[=AMOUNT]]...\n"
        "  entry reverse ID --memo TEXT [--date DATE]\n"
        "  import customers|invoices|payments FILE [--map FILE] [--dry-run]\n"
        "           [--skip-invalid] [--reject-file FILE] [--create-customers]\n"
        "  report aging [--as-of DATE] [--by-customer] [--customer REF]\n"
        "  report statement REF [--as-of DATE] [--from DATE]\n"
        "  contact log CUSTOMER --channel C --direction in|out --outcome O\n"
        "           [--note TEXT] [--at ISO8601] [--override REASON]\n"
        "  contact prefs CUSTOMER [--cease-contact yes|no] [--opt-out CHANNEL]...\n"
        "           [--opt-in CHANNEL]...\n"
        "  audit verify              check the contact log's hash chain\n"
        "  policy show [--version N] | policy load FILE | policy print\n"
        "  promise add CUSTOMER --amount A --by DATE [--currency C] [--note T]\n"
        "  plan add CUSTOMER --instalment DATE=AMOUNT... [--currency C] [--start D]\n"
        "  dispute open INVOICE --reason TEXT\n"
        "  dispute resolve ID --outcome credit_note|corrected_invoice|customer_wrong\n"
        "           [--amount A]\n"
        "  account reason CUSTOMER forgot|cannot_pay|slow|avoiding|dispute|complaint\n"
        "  account show CUSTOMER [--as-of DATE]\n"
        "  hold place|lift CUSTOMER --reason TEXT\n"
        "  settlement offer CUSTOMER --amount A [--invoice N]... [--expires D]\n"
        "  settlement approve ID\n"
        "  agency refer CUSTOMER --agency NAME --fee-percent P\n"
        "  writeoff request INVOICE --reason TEXT | writeoff approve ID\n"
        "  credit check CUSTOMER --bureau B --score S --cost A [--date D]\n"
        "  credit reference CUSTOMER --kind trade|bank --name N --result TEXT\n"
        "  flag list [--unacknowledged] [--rep USER|-] [--customer REF]\n"
        "  flag ack ID [--note TEXT] | flag note ID TEXT\n"
        "  dashboard [--rep USER | --mine] [--currency C] [--once] [--plain] [--limit N]\n"
        "           [--sort past-due|days|stage]   the late accounts, live\n"
        "  engine run [--as-of DATE]   the daily collections engine, catching up\n"
        "  worklist [--as-of DATE]     the actions due, contact rules applied\n"
        "  desk [--as-of DATE] [--at ISO8601] [--mine | --assignee USER | --all] [--once]\n"
        "                            the worklist and the accounts, one screen to work them\n"
        "  outbox list [--customer REF] [--status queued|sent|failed]\n"
        "  outbox show ID            a message as sent or to print (letters)\n"
        "  outbox due [--limit N] [--at ISO8601]\n"
        "                            the emails the contact rules let go out now\n"
        "  outbox send --smtp URL --from ADDRESS [--user NAME --password-file F]\n"
        "           [--limit N] [--dry-run]  deliver the due emails over SMTP\n"
        "  outbox mark ID --sent [--at ISO8601] | --failed --error TEXT\n"
        "\n"
        "The identity is --identity FILE, else $RECOUP_IDENTITY, else\n"
        "~/.config/recoup/identity. Roles: admin, manager, collector, sales,\n"
        "importer. Exit status: 0 ok, 1 refused by the server, 2 usage or\n"
        "local error, 3 server unreachable / key refused / no reply.\n");
}

int
main (int argc, char *argv [])
{
    cli_t cli;
    memset (&cli, 0, sizeof cli);
    cli.timeout_ms = 10000;
    //  Take the global options out wherever they are.
    char **rest = calloc ((size_t) argc + 1, sizeof *rest);
    int count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "--json") == 0)
            cli.json = 1;
        else if (strcmp (argv [i], "--identity") == 0 && i + 1 < argc)
            cli.identity_path = argv [++i];
        else if (strncmp (argv [i], "--identity=", 11) == 0)
            cli.identity_path = argv [i] + 11;
        else if (strcmp (argv [i], "--timeout") == 0 && i + 1 < argc) {
            char *end;
            long ms = strtol (argv [++i], &end, 10);
            if (*end || ms <= 0 || ms > 3600000) {
                cli_fail ("--timeout wants milliseconds, got '%s'", argv [i]);
                free (rest);
                return EXIT_USAGE;
            }
            cli.timeout_ms = (int) ms;
            cli.timeout_given = 1;
        }
        //  --help and --version before the command are the client's own;
        //  after it they belong to the command (policy show --version N).
        else if (count == 0 && (strcmp (argv [i], "--help") == 0
                                || strcmp (argv [i], "-h") == 0)) {
            s_usage (stdout);
            free (rest);
            return 0;
        }
        else if (count == 0 && strcmp (argv [i], "--version") == 0) {
            printf ("recoup %s (protocol %d)\n", RECOUP_VERSION, PROTOCOL_VERSION);
            free (rest);
            return 0;
        }
        else
            rest [count++] = argv [i];
    }
    int rc;
    if (count == 0) {
        s_usage (stderr);
        rc = EXIT_USAGE;
    }
    else if (strcmp (rest [0], "keygen") == 0)
        rc = cmd_keygen (&cli, count, rest);
    else if (strcmp (rest [0], "user") == 0)
        rc = cmd_user (&cli, count, rest);
    else if (strcmp (rest [0], "status") == 0)
        rc = cmd_status (&cli, count, rest);
    else if (strcmp (rest [0], "note") == 0)
        rc = cmd_note (&cli, count, rest);
    else if (strcmp (rest [0], "tail") == 0)
        rc = cmd_tail (&cli, count, rest);
    else if (strcmp (rest [0], "customer") == 0)
        rc = cmd_customer (&cli, count, rest);
    else if (strcmp (rest [0], "invoice") == 0)
        rc = cmd_invoice (&cli, count, rest);
    else if (strcmp (rest [0], "payment") == 0)
        rc = cmd_payment (&cli, count, rest);
    else if (strcmp (rest [0], "entry") == 0)
        rc = cmd_entry (&cli, count, rest);
    else if (strcmp (rest [0], "import") == 0)
        rc = cmd_import (&cli, count, rest);
    else if (strcmp (rest [0], "report") == 0)
        rc = cmd_report (&cli, count, rest);
    else if (strcmp (rest [0], "contact") == 0)
        rc = cmd_contact (&cli, count, rest);
    else if (strcmp (rest [0], "audit") == 0)
        rc = cmd_audit (&cli, count, rest);
    else if (strcmp (rest [0], "policy") == 0)
        rc = cmd_policy (&cli, count, rest);
    else if (strcmp (rest [0], "promise") == 0)
        rc = cmd_promise (&cli, count, rest);
    else if (strcmp (rest [0], "plan") == 0)
        rc = cmd_plan (&cli, count, rest);
    else if (strcmp (rest [0], "dispute") == 0)
        rc = cmd_dispute (&cli, count, rest);
    else if (strcmp (rest [0], "account") == 0)
        rc = cmd_account (&cli, count, rest);
    else if (strcmp (rest [0], "hold") == 0)
        rc = cmd_hold (&cli, count, rest);
    else if (strcmp (rest [0], "settlement") == 0)
        rc = cmd_settlement (&cli, count, rest);
    else if (strcmp (rest [0], "agency") == 0)
        rc = cmd_agency (&cli, count, rest);
    else if (strcmp (rest [0], "writeoff") == 0)
        rc = cmd_writeoff (&cli, count, rest);
    else if (strcmp (rest [0], "credit") == 0)
        rc = cmd_credit (&cli, count, rest);
    else if (strcmp (rest [0], "engine") == 0)
        rc = cmd_engine (&cli, count, rest);
    else if (strcmp (rest [0], "worklist") == 0)
        rc = cmd_worklist (&cli, count, rest);
    else if (strcmp (rest [0], "outbox") == 0)
        rc = cmd_outbox (&cli, count, rest);
    else if (strcmp (rest [0], "dashboard") == 0)
        rc = cmd_dashboard (&cli, count, rest);
    else if (strcmp (rest [0], "desk") == 0)
        rc = cmd_desk (&cli, count, rest);
    else if (strcmp (rest [0], "flag") == 0)
        rc = cmd_flag (&cli, count, rest);
    else {
        cli_fail ("unknown command '%s' (try recoup --help)", rest [0]);
        rc = EXIT_USAGE;
    }
    free (rest);
    return rc;
}
