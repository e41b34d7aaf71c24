/*  recoup-gen: generated receivables data in recoup's native import
    format, for demos and benchmarks. No real company, person, phone
    number or mail domain is in it.

      recoup-gen demo --out DIR     a small wholesale business: customers,
                                    a year of invoices, the payments
      recoup-gen customers|invoices|payments --count N ...
                                    streams for the import benchmark

    The demo is calibrated on what real receivables look like (a public
    accounts receivable export of 2,466 invoices was used to check the
    shapes, not copied): on net 30 most customers pay a few days before
    or after the due date (median 26 days to pay, a third of invoices paid
    late, nine in ten within two weeks of the due date), invoicing dips in
    January and late December, and a customer places about two orders a
    month. On top of that, what a collections system is for: a tenth of
    the customers chronically 30-120 days late, a few that stopped paying,
    partial and short payments, payments on account and overpayments.
    Amounts are long-tailed (log-normal per customer and per order, and
    the odd bulk order).

    Everything is drawn from our own generators (xoshiro256**, splitmix64)
    so that a seed gives the same files on every machine; the few
    functions of libm we need are written out below so that the build
    needs nothing but recoup_common.

    Phone numbers are from the ranges regulators keep for fiction (US
    555-0100 to 0199, Ofcom's drama numbers, ...), and mail domains end in
    ".example" (RFC 2606): a demo that sends reminders reaches nobody.

    The streams are functions of (seed, row): the invoice stream picks a
    customer and an amount for row i from a hash of the seed and i, in
    constant memory, and the payment stream recomputes the invoice it
    pays from the same hash, so that files generated separately line up. */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "date.h"
#include "money.h"

#define EXIT_FAILED 1           //  could not write the output
#define EXIT_USAGE 2            //  bad command line

#define NO_DATE INT32_MIN

//  ---------------------------------------------------------------------
//  Random numbers

//  One step of splitmix64: the seeder of xoshiro and our row hash.
static uint64_t
s_splitmix64 (uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t s [4];             //  xoshiro256** state, never all zero
} rng_t;

//  Seeds a generator from a seed and a stream number, so that the
//  customers, the invoices and each row have independent sequences.
static void
rng_seed (rng_t *self, uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    x = s_splitmix64 (&x) ^ index;
    for (int i = 0; i < 4; i++)
        self->s [i] = s_splitmix64 (&x);
}

static uint64_t
s_rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

//  Next 64 random bits (xoshiro256**).
static uint64_t
rng_next (rng_t *self)
{
    uint64_t *s = self->s;
    uint64_t result = s_rotl (s [1] * 5, 7) * 9;
    uint64_t t = s [1] << 17;
    s [2] ^= s [0];
    s [3] ^= s [1];
    s [1] ^= s [2];
    s [0] ^= s [3];
    s [2] ^= t;
    s [3] = s_rotl (s [3], 45);
    return result;
}

//  Uniform in (0, 1]: never 0, so that its logarithm is finite.
static double
rng_unit (rng_t *self)
{
    return ((double) (rng_next (self) >> 11) + 1.0) * 0x1.0p-53;
}

//  Uniform integer in [lo, hi], without modulo bias worth mentioning
//  (Lemire's multiply-shift; the bias is below 2^-32 for our ranges).
static int64_t
rng_range (rng_t *self, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t) (hi - lo) + 1;
    unsigned __int128 product = (unsigned __int128) rng_next (self) * span;
    return lo + (int64_t) (product >> 64);
}

//  1 with probability p.
static int
rng_chance (rng_t *self, double p)
{
    return rng_unit (self) <= p;
}

//  Index into weights [0..count) with probability proportional to weight.
static int
rng_weighted (rng_t *self, const int *weights, int count)
{
    int total = 0;
    for (int i = 0; i < count; i++)
        total += weights [i];
    int pick = (int) rng_range (self, 0, total - 1);
    for (int i = 0; i < count; i++) {
        if (pick < weights [i])
            return i;
        pick -= weights [i];
    }
    return count - 1;
}

//  e^x, for |x| up to 700: 2^k * e^r with |r| <= ln2/2 and a Taylor
//  series to r^13 (error below 1e-15, plenty for generated data).
static double
s_exp (double x)
{
    if (x > 700)
        x = 700;
    if (x < -700)
        return 0;
    double kf = x * 1.4426950408889634;
    int64_t k = (int64_t) (kf + (kf >= 0 ? 0.5 : -0.5));
    double r = x - (double) k * 0.6931471805599453;
    double term = 1, sum = 1;
    for (int n = 1; n < 14; n++) {
        term *= r / n;
        sum += term;
    }
    uint64_t bits;
    memcpy (&bits, &sum, sizeof bits);
    bits += (uint64_t) k << 52;
    memcpy (&sum, &bits, sizeof sum);
    return sum;
}

//  Natural logarithm of a positive normal double: exponent from the bits,
//  then 2 atanh ((m - 1) / (m + 1)) for the mantissa in [0.71, 1.42].
static double
s_log (double x)
{
    uint64_t bits;
    memcpy (&bits, &x, sizeof bits);
    int exponent = (int) ((bits >> 52) & 0x7FF) - 1023;
    bits = (bits & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL;
    double m;
    memcpy (&m, &bits, sizeof m);
    if (m > 1.4142135623730951) {
        m /= 2;
        exponent++;
    }
    double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
    for (int n = 1; n < 24; n += 2) {
        sum += term / n;
        term *= s2;
    }
    return exponent * 0.6931471805599453 + 2 * sum;
}

//  Standard normal (Marsaglia's polar method).
static double
rng_normal (rng_t *self)
{
    double u, v, s;
    do {
        u = 2 * rng_unit (self) - 1;
        v = 2 * rng_unit (self) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    return u * s_exp (0.5 * s_log (-2 * s_log (s) / s));
}

//  x rounded to the nearest integer, halves away from zero.
static int64_t
s_round (double x)
{
    return (int64_t) (x >= 0 ? x + 0.5 : x - 0.5);
}

//  ---------------------------------------------------------------------
//  Where customers are: names, phones, time zones, languages

typedef struct {
    const char *zone;           //  IANA time zone
    const char *phone;          //  phone pattern, '#' a random digit
    int weight;                 //  share within the region
} place_t;

typedef struct {
    const char *code;           //  ISO 3166 country code
    const char *currency;       //  the currency it invoices in at home
    const place_t *places;      //  zones and phone ranges
    int place_count;
    const char *const *languages;       //  language tags
    const int *language_weights;
    int language_count;
    const char *const *surnames;
    int surname_count;
    const char *const *trades;  //  lines of business
    int trade_count;
    const char *const *suffixes;        //  legal forms
    int suffix_count;
    int style;                  //  how names are put together (STYLE_*)
} region_t;

enum { STYLE_EN, STYLE_DE, STYLE_FR, STYLE_SV };

#define COUNT(a) ((int) (sizeof (a) / sizeof (a) [0]))

//  US: 555-0100 to 555-0199 are for fiction in every area code.
static const place_t s_us_places [] = {
    { "America/New_York", "+1 212-555-01##", 14 },
    { "America/New_York", "+1 617-555-01##", 6 },
    { "America/New_York", "+1 215-555-01##", 5 },
    { "America/New_York", "+1 404-555-01##", 6 },
    { "America/New_York", "+1 305-555-01##", 5 },
    { "America/New_York", "+1 704-555-01##", 4 },
    { "America/New_York", "+1 412-555-01##", 3 },
    { "America/Detroit", "+1 313-555-01##", 2 },
    { "America/Chicago", "+1 312-555-01##", 12 },
    { "America/Chicago", "+1 214-555-01##", 6 },
    { "America/Chicago", "+1 713-555-01##", 6 },
    { "America/Chicago", "+1 612-555-01##", 3 },
    { "America/Chicago", "+1 314-555-01##", 2 },
    { "America/Denver", "+1 303-555-01##", 5 },
    { "America/Denver", "+1 801-555-01##", 2 },
    { "America/Phoenix", "+1 602-555-01##", 3 },
    { "America/Los_Angeles", "+1 213-555-01##", 7 },
    { "America/Los_Angeles", "+1 415-555-01##", 4 },
    { "America/Los_Angeles", "+1 206-555-01##", 3 },
    { "America/Los_Angeles", "+1 503-555-01##", 2 },
    { "America/Anchorage", "+1 907-555-01##", 1 },
    { "Pacific/Honolulu", "+1 808-555-01##", 1 },
};
static const place_t s_ca_places [] = {
    { "America/Toronto", "+1 416-555-01##", 30 },
    { "America/Toronto", "+1 514-555-01##", 18 },
    { "America/Toronto", "+1 613-555-01##", 6 },
    { "America/Vancouver", "+1 604-555-01##", 16 },
    { "America/Edmonton", "+1 403-555-01##", 12 },
    { "America/Winnipeg", "+1 204-555-01##", 5 },
    { "America/Regina", "+1 306-555-01##", 3 },
    { "America/Halifax", "+1 902-555-01##", 6 },
    { "America/St_Johns", "+1 709-555-01##", 2 },
};
//  Ofcom's drama numbers: 020 7946 0000-0999, and 496 0000-0999 after
//  any other area code.
static const place_t s_gb_places [] = {
    { "Europe/London", "+44 20 7946 0###", 40 },
    { "Europe/London", "+44 161 496 0###", 15 },
    { "Europe/London", "+44 121 496 0###", 12 },
    { "Europe/London", "+44 113 496 0###", 10 },
    { "Europe/London", "+44 117 496 0###", 8 },
    { "Europe/London", "+44 141 496 0###", 10 },
    { "Europe/London", "+44 131 496 0###", 5 },
};
//  Bundesnetzagentur: 030 23125 000-999 for films and books.
static const place_t s_de_places [] = {
    { "Europe/Berlin", "+49 30 23125 ###", 1 },
};
//  ARCEP's numbers for fiction.
static const place_t s_fr_places [] = {
    { "Europe/Paris", "+33 1 99 00 ## ##", 6 },
    { "Europe/Paris", "+33 4 65 71 ## ##", 3 },
    { "Europe/Paris", "+33 6 39 98 ## ##", 2 },
};
//  PTS: 08-465 04 00 to 99 and 031-390 06 00 to 99 for fiction.
static const place_t s_se_places [] = {
    { "Europe/Stockholm", "+46 8 465 04 ##", 3 },
    { "Europe/Stockholm", "+46 31 390 06 ##", 1 },
};
//  ACMA: 5550 0000-9999 after area codes 02, 07 and 08, and 7010 0000-9999
//  after 03, for fiction.
static const place_t s_au_places [] = {
    { "Australia/Sydney", "+61 2 5550 ####", 40 },
    { "Australia/Melbourne", "+61 3 7010 ####", 32 },
    { "Australia/Brisbane", "+61 7 5550 ####", 18 },
    { "Australia/Perth", "+61 8 5550 ####", 10 },
};

static const char *const s_en_surnames [] = {
    "Hartley", "Brennan", "Okafor", "Nguyen", "Kowalski", "Patel", "Sullivan",
    "Fitzgerald", "Morrison", "Yamamoto", "Lindqvist", "O'Brien", "Harper",
    "Whitaker", "Donnelly", "Chen", "Park", "Jensen", "Schultz", "Novak",
    "Greenberg", "Washington", "Bennett", "Crawford", "Russo", "Goldstein",
    "Kaplan", "Abbott", "Caldwell", "Dawson", "Ellison", "Fletcher",
    "Gallagher", "Hayes", "Ingram", "Jacobs", "Keller", "Lawson", "Nolan",
    "Pruitt", "Quinn", "Ramsey", "Stanton", "Thornton", "Underwood", "Vance",
    "Walsh", "Young", "Zimmerman", "Brooks", "Foster", "McAllister",
    "Baptiste", "Kim", "Rossi", "Hendricks", "Marsh", "Pierce", "Sinclair",
    "Holloway",
    //  Last, so that language can follow them (s_hispanic_from).
    "Alvarez", "Delgado", "Castillo", "Peña", "Muñoz", "Romero", "Moreno",
    "Mendoza", "Ortega", "Ibáñez",
};
#define HISPANIC_FROM (COUNT (s_en_surnames) - 10)
static const char *const s_en_places [] = {
    "Northwind", "Blue Ridge", "Lakeside", "Cedar Creek", "Harbor", "Summit",
    "Prairie", "Riverbend", "Golden Valley", "Pine Hill", "Bayview",
    "Redwood", "Silver Lake", "Eastside", "Westfield", "Oak Park", "Highland",
    "Coastal", "Heartland", "Mesa", "Canyon", "Gateway", "Keystone",
    "Liberty", "Pioneer", "Frontier", "Evergreen", "Tri-County", "Metro",
    "Union Square", "Maple Leaf", "Old Mill", "Bridgewater", "Stonegate",
};
static const char *const s_en_trades [] = {
    "Hardware", "Building Supply", "Restaurant Supply", "Provisions",
    "Foods", "Market", "Grocers", "Bakery", "Café", "Deli", "Florist",
    "Garden Center", "Pet Supply", "Office Products", "Janitorial Supply",
    "Marine Supply", "Farm & Ranch", "Catering", "Brewing Company",
    "Auto Parts", "Electric", "Plumbing & Heating", "Pharmacy", "Hotel",
    "Bistro", "Outfitters", "General Store", "Feed & Seed", "Lumber",
    "Paint & Decor", "Coffee Roasters", "Kitchen & Bath", "Sporting Goods",
    "Liquors", "Convenience",
};
static const char *const s_us_suffixes [] = { "Inc.", "LLC", "Co.", "Corp." };
static const char *const s_ca_suffixes [] = { "Inc.", "Ltd.", "Corp." };
static const char *const s_gb_suffixes [] = { "Ltd", "Limited", "& Co" };
static const char *const s_au_suffixes [] = { "Pty Ltd" };

static const char *const s_de_surnames [] = {
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
    "Becker", "Schulz", "Hoffmann", "Koch", "Bauer", "Richter", "Klein",
    "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun",
    "Krüger", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Köhler",
};
static const char *const s_de_trades [] = {
    "Großhandel", "Gastronomie", "Bäckerei", "Elektrotechnik", "Baustoffe",
    "Getränke", "Haustechnik", "Metallbau", "Feinkost", "Sanitär",
    "Holzbau", "Gartenbau", "Bürobedarf",
};
static const char *const s_de_suffixes [] = { "GmbH", "GmbH & Co. KG", "e.K.", "KG" };

static const char *const s_fr_surnames [] = {
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
    "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel",
    "Garcia", "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard",
    "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François",
};
static const char *const s_fr_trades [] = {
    "Boulangerie", "Quincaillerie", "Traiteur", "Épicerie Fine",
    "Transports", "Menuiserie", "Électricité", "Fromagerie", "Cave",
    "Brasserie", "Pâtisserie", "Plomberie",
};
static const char *const s_fr_suffixes [] = { "SARL", "SAS", "& Cie", "et Fils" };

static const char *const s_se_surnames [] = {
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson",
    "Olsson", "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson",
    "Hansson", "Bengtsson", "Jönsson", "Lindberg", "Magnusson", "Lindström",
    "Åberg", "Sjöberg",
};
static const char *const s_se_trades [] = {
    "Bygg", "Livs", "Järnhandel", "Måleri", "El", "Rör", "Trädgård",
    "Konditori", "Åkeri", "Kafferosteri", "Café",
};
static const char *const s_se_suffixes [] = { "AB", "Handelsbolag" };

static const char *const s_langs_us [] = { "en", "es" };
static const int s_langs_us_w [] = { 97, 3 };
static const char *const s_langs_ca [] = { "en", "fr" };
static const int s_langs_ca_w [] = { 76, 24 };
static const char *const s_langs_en [] = { "en" };
static const int s_langs_one_w [] = { 1 };
static const char *const s_langs_de [] = { "de" };
static const char *const s_langs_fr [] = { "fr" };
static const char *const s_langs_se [] = { "sv", "en" };
static const int s_langs_se_w [] = { 90, 10 };

#define REGION(code, cur, places, langs, lw, sur, trades, suf, style) \
    { code, cur, places, COUNT (places), langs, lw, COUNT (langs), \
      sur, COUNT (sur), trades, COUNT (trades), suf, COUNT (suf), style }
static const region_t s_regions [] = {
    REGION ("US", "USD", s_us_places, s_langs_us, s_langs_us_w,
            s_en_surnames, s_en_trades, s_us_suffixes, STYLE_EN),
    REGION ("CA", "CAD", s_ca_places, s_langs_ca, s_langs_ca_w,
            s_en_surnames, s_en_trades, s_ca_suffixes, STYLE_EN),
    REGION ("GB", "GBP", s_gb_places, s_langs_en, s_langs_one_w,
            s_en_surnames, s_en_trades, s_gb_suffixes, STYLE_EN),
    REGION ("DE", "EUR", s_de_places, s_langs_de, s_langs_one_w,
            s_de_surnames, s_de_trades, s_de_suffixes, STYLE_DE),
    REGION ("FR", "EUR", s_fr_places, s_langs_fr, s_langs_one_w,
            s_fr_surnames, s_fr_trades, s_fr_suffixes, STYLE_FR),
    REGION ("SE", "SEK", s_se_places, s_langs_se, s_langs_se_w,
            s_se_surnames, s_se_trades, s_se_suffixes, STYLE_SV),
    REGION ("AU", "AUD", s_au_places, s_langs_en, s_langs_one_w,
            s_en_surnames, s_en_trades, s_au_suffixes, STYLE_EN),
};
#define REGION_COUNT COUNT (s_regions)

//  Customers abroad, as a share of all, by region: a US wholesaler has
//  some Canadian customers, a few in Britain and Europe.
static const int s_abroad_weights [REGION_COUNT] = { 40, 30, 12, 6, 5, 3, 4 };
#define ABROAD_PERCENT 12

//  Rough units of the currency per US dollar, to keep amounts plausible
//  in any currency (only the order of magnitude matters).
static const struct {
    const char *code;           //  ISO 4217
    double per_usd;             //  units per USD
} s_rates [] = {
    { "AUD", 1.5 }, { "CAD", 1.37 }, { "CHF", 0.88 }, { "CNY", 7.2 },
    { "DKK", 6.9 }, { "EUR", 0.92 }, { "GBP", 0.79 }, { "HKD", 7.8 },
    { "INR", 83 }, { "JPY", 150 }, { "KRW", 1350 }, { "MXN", 17 },
    { "NOK", 10.7 }, { "NZD", 1.65 }, { "PLN", 4 }, { "SEK", 10.5 },
    { "SGD", 1.35 }, { "ZAR", 18.5 },
};

//  Multiplies an amount in US dollars into currency's major units.
static double
s_per_usd (const char *currency)
{
    for (int i = 0; i < COUNT (s_rates); i++)
        if (strcmp (s_rates [i].code, currency) == 0)
            return s_rates [i].per_usd;
    return 1;
}

//  ---------------------------------------------------------------------
//  Customers

typedef struct {
    const char *text;           //  as written in the files
    int days;                   //  due this many days after issue
    int discount_bp;            //  early-payment discount, basis points
    int discount_days;          //  ... if paid within this many days
} terms_row_t;

static const terms_row_t s_terms [] = {
    { "net 30", 30, 0, 0 },
    { "net 15", 15, 0, 0 },
    { "net 60", 60, 0, 0 },
    { "2/10 net 30", 30, 200, 10 },
};
static const int s_terms_weights [] = { 70, 10, 9, 11 };

//  How a customer pays.
enum {
    PAYS_PROMPT,                //  well before the due date
    PAYS_REGULAR,               //  around the due date
    PAYS_SLOW,                  //  a week or three late
    PAYS_CHRONIC,               //  30 to 120 days late
    PAYS_STOPPED,               //  paid slowly, then stopped paying
    PAYS_COUNT
};
static const char *const s_pays_names [PAYS_COUNT] = {
    "prompt", "regular", "slow", "chronically late", "stopped paying"
};
static const int s_pays_weights [PAYS_COUNT] = { 28, 113, 36, 20, 3 };

enum { METHOD_CHECK, METHOD_ACH, METHOD_WIRE, METHOD_CARD, METHOD_COUNT };
static const char *const s_method_names [METHOD_COUNT] = {
    "check", "ach", "wire", "card"
};
static const char *const s_method_refs [METHOD_COUNT] = {
    "CHK", "ACH", "WIRE", "CARD"
};
static const int s_method_weights [METHOD_COUNT] = { 44, 40, 5, 11 };

typedef struct {
    //  What decides the amounts and the payments (drawn first, the same
    //  for a given seed and index in every subcommand):
    int terms;                  //  index into s_terms
    int pays;                   //  PAYS_*
    double mu;                  //  log of the typical order, in USD
    double rate;                //  orders a month
    double lateness;            //  mean days paid after the due date
    int method;                 //  usual way of paying (METHOD_*)
    //  Who it is:
    const region_t *region;     //  where it is
    char ref [24];              //  customer reference
    char name [160];            //  company name
    char email [112];           //  accounts payable address, or ""
    char phone [32];            //  phone, or ""
    const char *timezone;       //  IANA zone
    const char *language;       //  language tag
    int64_t credit_limit;       //  minor units
    //  The demo's simulation:
    int32_t first;              //  first day it orders
    int32_t last;               //  last day it orders
    int32_t stop;               //  first day it no longer pays, or NO_DATE
    int check_no;               //  next check number
    int pay_seq;                //  payments so far (references)
} customer_t;

//  Draws what decides a customer's amounts and payments. The invoice and
//  payment streams call only this, so it must draw the same way for
//  every subcommand.
static void
customer_model (customer_t *self, rng_t *rng)
{
    memset (self, 0, sizeof *self);
    self->terms = rng_weighted (rng, s_terms_weights, COUNT (s_terms));
    self->pays = rng_weighted (rng, s_pays_weights, PAYS_COUNT);
    //  Typical order: median $700, a customer at the 90th percentile
    //  orders 3.6 times as much; big customers order more often too.
    double z_size = rng_normal (rng), z_rate = rng_normal (rng);
    self->mu = s_log (700) + 1.0 * z_size;
    self->rate = 1.6 * s_exp (0.7 * (0.4 * z_size + 0.92 * z_rate));
    if (self->rate > 25)
        self->rate = 25;
    if (self->rate < 0.15)
        self->rate = 0.15;
    double z_late = rng_normal (rng);
    switch (self->pays) {
        case PAYS_PROMPT:  self->lateness = 0; break;
        case PAYS_REGULAR: self->lateness = -4 + 3 * z_late; break;
        case PAYS_SLOW:    self->lateness = (double) rng_range (rng, 6, 25); break;
        case PAYS_CHRONIC: self->lateness = (double) rng_range (rng, 35, 90); break;
        default:           self->lateness = (double) rng_range (rng, 15, 45); break;
    }
    self->method = rng_weighted (rng, s_method_weights, METHOD_COUNT);
}

//  Appends text at *at in buf [size], truncating.
static void
s_append (char *buf, size_t size, size_t *at, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
static void
s_append (char *buf, size_t size, size_t *at, const char *format, ...)
{
    if (*at >= size)
        return;
    va_list args;
    va_start (args, format);
    int n = vsnprintf (buf + *at, size - *at, format, args);
    va_end (args);
    if (n > 0)
        *at += (size_t) n < size - *at ? (size_t) n : size - *at - 1;
}

//  Lower-case ASCII letters and digits of UTF-8 text, Latin letters with
//  accents folded ("Müller & Sons" -> "mullersons"), at most max bytes.
static void
s_slug (const char *text, char *out, size_t max)
{
    static const struct {
        const char *utf8;       //  a letter with a diacritic
        char ascii;             //  what it folds to
    } folds [] = {
        { "ä", 'a' }, { "å", 'a' }, { "à", 'a' }, { "á", 'a' }, { "â", 'a' },
        { "Å", 'a' }, { "é", 'e' }, { "è", 'e' }, { "ê", 'e' }, { "É", 'e' },
        { "í", 'i' }, { "ï", 'i' }, { "ñ", 'n' }, { "ö", 'o' }, { "ó", 'o' },
        { "ô", 'o' }, { "ü", 'u' }, { "ú", 'u' }, { "ç", 'c' }, { "ß", 's' },
    };
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < max; ) {
        unsigned char c = (unsigned char) *p;
        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z')
                out [n++] = (char) (c - 'A' + 'a');
            else
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                out [n++] = (char) c;
            p++;
            continue;
        }
        int folded = 0;
        for (int i = 0; i < COUNT (folds) && !folded; i++) {
            size_t len = strlen (folds [i].utf8);
            if (strncmp (p, folds [i].utf8, len) == 0) {
                out [n++] = folds [i].ascii;
                p += len;
                folded = 1;
            }
        }
        if (!folded)
            for (p++; ((unsigned char) *p & 0xC0) == 0x80; p++)
                ;
    }
    out [n] = 0;
}

//  Makes up a company name in the region's style.
static void
s_company_name (const region_t *region, rng_t *rng, char *buf, size_t size)
{
    const char *s1 = region->surnames [rng_range (rng, 0, region->surname_count - 1)];
    const char *s2 = region->surnames [rng_range (rng, 0, region->surname_count - 1)];
    const char *trade = region->trades [rng_range (rng, 0, region->trade_count - 1)];
    const char *suffix = region->suffixes [rng_range (rng, 0, region->suffix_count - 1)];
    const char *place = s_en_places [rng_range (rng, 0, COUNT (s_en_places) - 1)];
    int us = strcmp (region->code, "US") == 0;
    int gb = strcmp (region->code, "GB") == 0;
    size_t at = 0;
    buf [0] = 0;
    int pattern = (int) rng_range (rng, 0, 99);
    if (region->style == STYLE_DE) {
        if (pattern < 45)
            s_append (buf, size, &at, "%s %s %s", s1, trade, suffix);
        else if (pattern < 70)
            s_append (buf, size, &at, "%s & %s %s", s1, s2, suffix);
        else
            s_append (buf, size, &at, "%s %s %s", trade, s1, suffix);
    }
    else
    if (region->style == STYLE_FR) {
        if (pattern < 40)
            s_append (buf, size, &at, "%s %s %s", trade, s1, suffix);
        else if (pattern < 65)
            s_append (buf, size, &at, "Établissements %s", s1);
        else
            s_append (buf, size, &at, "%s %s", s1, suffix);
    }
    else
    if (region->style == STYLE_SV) {
        if (pattern < 55)
            s_append (buf, size, &at, "%ss %s %s", s1, trade, suffix);
        else
            s_append (buf, size, &at, "%s %s %s", s1, trade, suffix);
    }
    else {
        //  "Hartley Hardware, Inc.", "Smith, Jones & Co", "O'Brien's Deli",
        //  "Kim Holdings d/b/a "Lakeside Bakery"": the quoting cases are
        //  there on purpose.
        if (pattern < 30) {
            s_append (buf, size, &at, "%s %s", s1, trade);
            if (rng_chance (rng, 0.5))
                s_append (buf, size, &at, "%s %s",
                          us && rng_chance (rng, 0.5) ? "," : "", suffix);
        }
        else if (pattern < 55) {
            s_append (buf, size, &at, "%s %s", place, trade);
            if (rng_chance (rng, 0.6))
                s_append (buf, size, &at, " %s", suffix);
        }
        else if (pattern < 63)
            s_append (buf, size, &at, "%s, %s & Co%s", s1, s2, gb ? "" : ".");
        else if (pattern < 72)
            s_append (buf, size, &at, "%s & Sons %s", s1, trade);
        else if (pattern < 85)
            s_append (buf, size, &at, "%s's %s", s1, trade);
        else if (pattern < 91)
            s_append (buf, size, &at, "The %s %s", place, trade);
        else if (pattern < 98)
            s_append (buf, size, &at, "%s Bros. %s", s1, trade);
        else
            s_append (buf, size, &at, "%s Holdings %s \"%s %s\"", s1,
                      gb ? "t/a" : "d/b/a", place, trade);
    }
}

//  Draws who a customer is: region, name, contact, zone, language. ref
//  is set by the caller. Draws after customer_model on the same rng.
static void
customer_describe (customer_t *self, const region_t *home, const char *currency,
                   rng_t *rng)
{
    self->region = home;
    if (rng_chance (rng, ABROAD_PERCENT / 100.0)) {
        int pick = rng_weighted (rng, s_abroad_weights, REGION_COUNT);
        if (&s_regions [pick] != home)
            self->region = &s_regions [pick];
    }
    const region_t *region = self->region;
    s_company_name (region, rng, self->name, sizeof self->name);

    const place_t *place = NULL;
    int weights [32];
    assert (region->place_count <= COUNT (weights));
    for (int i = 0; i < region->place_count; i++)
        weights [i] = region->places [i].weight;
    place = &region->places [rng_weighted (rng, weights, region->place_count)];
    self->timezone = place->zone;
    size_t n = 0;
    for (const char *p = place->phone; *p && n + 1 < sizeof self->phone; p++)
        self->phone [n++] = *p == '#' ? (char) ('0' + rng_range (rng, 0, 9)) : *p;
    self->phone [n] = 0;
    if (rng_chance (rng, 0.04))
        self->phone [0] = 0;    //  nobody wrote it down

    self->language = region->languages [rng_weighted (rng, region->language_weights,
                                                      region->language_count)];
    //  Spanish-speaking owners, where the surname suggests it.
    if (strcmp (region->code, "US") == 0) {
        for (int i = HISPANIC_FROM; i < COUNT (s_en_surnames); i++)
            if (strstr (self->name, s_en_surnames [i]) && rng_chance (rng, 0.4))
                self->language = "es";
    }

    //  The company's own words, without legal forms, make the domain.
    char words [160];
    snprintf (words, sizeof words, "%s", self->name);
    char *dba = strchr (words, '"');        //  the trading name, if any
    if (dba) {
        memmove (words, dba + 1, strlen (dba + 1) + 1);
        char *end = strchr (words, '"');
        if (end)
            *end = 0;
    }
    for (int i = 0; i < region->suffix_count; i++) {
        char *at = strstr (words, region->suffixes [i]);
        if (at && at > words)
            *at = 0;
    }
    char slug [40];
    s_slug (words, slug, 25);
    static const char *const boxes [] = { "ap", "accounts", "billing",
                                          "office", "info", "payables" };
    static const int box_weights [] = { 30, 20, 10, 10, 10, 8 };
    int box = rng_chance (rng, 0.12) ? -1 : rng_weighted (rng, box_weights, COUNT (boxes));
    char local [32];
    if (box < 0) {
        char surname [16];
        s_slug (region->surnames [rng_range (rng, 0, region->surname_count - 1)],
                surname, 16);
        snprintf (local, sizeof local, "%c.%s", (char) ('a' + rng_range (rng, 0, 25)),
                  surname);
    }
    else
        snprintf (local, sizeof local, "%s", boxes [box]);
    if (rng_chance (rng, 0.03) || !*slug)
        self->email [0] = 0;
    else
        snprintf (self->email, sizeof self->email, "%s@%s.example", local, slug);

    //  Credit limit: about two months of orders, in round figures.
    int exponent = money_currency_exponent (currency);
    double typical = s_exp (self->mu + 0.18) * s_per_usd (currency);
    double limit = 2 * self->rate * typical * (s_terms [self->terms].days > 30 ? 1.5 : 1);
    double floor_ = 1000 * s_per_usd (currency);
    if (limit < floor_)
        limit = floor_;
    double step = limit < 10000 * s_per_usd (currency) ? 500 : limit < 100000 * s_per_usd (currency) ? 5000 : 25000;
    step *= s_per_usd (currency) >= 5 ? 10 : 1;
    int64_t major = (int64_t) (limit / step + 0.999999) * (int64_t) step;
    int64_t scale = 1;
    for (int i = 0; i < exponent; i++)
        scale *= 10;
    self->credit_limit = major * scale;
}

//  ---------------------------------------------------------------------
//  Output

//  A file being written: stdout, the file itself, or (atomic) FILE.tmp
//  renamed to FILE on success, so that a half-written demo file never
//  passes for a whole one. Streams write to the path as given: it may be
//  /dev/stdout or a pipe, which must not be replaced.
typedef struct {
    FILE *file;                 //  where rows go
    char *path;                 //  final name, NULL for stdout
    char *tmp;                  //  name while writing (atomic), else NULL
    long long rows;             //  records written, header excluded
} out_t;

//  Opens path ("-" or NULL: stdout) for writing. Returns 0, or -1 with a
//  message on stderr.
static int
out_open (out_t *self, const char *path, int atomic)
{
    memset (self, 0, sizeof *self);
    if (!path || strcmp (path, "-") == 0) {
        self->file = stdout;
        return 0;
    }
    self->path = strdup (path);
    if (atomic)
        self->tmp = malloc (strlen (path) + 5);
    if (!self->path || (atomic && !self->tmp)) {
        fprintf (stderr, "recoup-gen: out of memory\n");
        return -1;
    }
    if (atomic)
        sprintf (self->tmp, "%s.tmp", path);
    const char *name = atomic ? self->tmp : self->path;
    self->file = fopen (name, "wb");
    if (!self->file) {
        fprintf (stderr, "recoup-gen: cannot write %s: %s\n", name, strerror (errno));
        return -1;
    }
    setvbuf (self->file, NULL, _IOFBF, 1 << 20);
    return 0;
}

//  Finishes the file: flushes and closes it, and renames it into place
//  (atomic and ok) or removes it (atomic and !ok). Returns 0, or -1 with
//  a message on stderr.
static int
out_close (out_t *self, int ok)
{
    int rc = 0;
    if (self->file == stdout) {
        if (fflush (stdout) || ferror (stdout)) {
            fprintf (stderr, "recoup-gen: writing to stdout: %s\n", strerror (errno));
            rc = -1;
        }
    }
    else
    if (self->file) {
        const char *name = self->tmp ? self->tmp : self->path;
        int failed = ferror (self->file);
        if (fclose (self->file) || failed) {
            fprintf (stderr, "recoup-gen: writing %s: %s\n", name,
                     failed ? "write error" : strerror (errno));
            ok = 0;
            rc = -1;
        }
        if (self->tmp && ok && rename (self->tmp, self->path)) {
            fprintf (stderr, "recoup-gen: cannot rename %s to %s: %s\n", self->tmp,
                     self->path, strerror (errno));
            rc = -1;
            ok = 0;
        }
        if (self->tmp && !ok)
            remove (self->tmp);
    }
    free (self->path);
    free (self->tmp);
    memset (self, 0, sizeof *self);
    return rc;
}

//  1 when a field must be quoted: it holds a separator, a quote or a line
//  break, or starts or ends with a blank (which readers may trim).
static int
s_needs_quotes (const char *field)
{
    size_t len = strlen (field);
    if (len == 0)
        return 0;
    if (strpbrk (field, ",\"\r\n"))
        return 1;
    return field [0] == ' ' || field [0] == '\t'
        || field [len - 1] == ' ' || field [len - 1] == '\t';
}

//  Writes one record as RFC 4180 (quotes only where needed, doubled
//  inside, CRLF line ends): what common/csv reads back.
static void
out_record (out_t *self, const char *const *fields, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const char *field = fields [i] ? fields [i] : "";
        if (i > 0)
            putc (',', self->file);
        if (!s_needs_quotes (field)) {
            fputs (field, self->file);
            continue;
        }
        putc ('"', self->file);
        for (const char *p = field; *p; p++) {
            if (*p == '"')
                putc ('"', self->file);
            putc (*p, self->file);
        }
        putc ('"', self->file);
    }
    fputs ("\r\n", self->file);
}

//  A chunk of rows built by hand for the fast streams, whose fields never
//  need quotes (digits, ASCII letters, '-', '.').
typedef struct {
    char data [1 << 16];        //  pending bytes
    size_t len;                 //  how many
    FILE *file;                 //  where they go
} chunk_t;

static void
chunk_flush (chunk_t *self)
{
    if (self->len)
        fwrite (self->data, 1, self->len, self->file);
    self->len = 0;
}

static inline void
chunk_put (chunk_t *self, const char *text, size_t len)
{
    if (self->len + len > sizeof self->data)
        chunk_flush (self);
    memcpy (self->data + self->len, text, len);
    self->len += len;
}

//  Writes n in decimal, zero-padded to width, into buf; returns length.
static size_t
s_format_number (uint64_t n, int width, char *buf)
{
    char digits [24];
    int count = 0;
    do {
        digits [count++] = (char) ('0' + n % 10);
        n /= 10;
    } while (n);
    while (count < width)
        digits [count++] = '0';
    for (int i = 0; i < count; i++)
        buf [i] = digits [count - 1 - i];
    return (size_t) count;
}

//  ---------------------------------------------------------------------
//  Calendar helpers

//  0 Monday .. 6 Sunday (1970-01-01 was a Thursday).
static int
s_weekday (int32_t day)
{
    int w = (int) ((day % 7 + 7 + 3) % 7);
    return w;
}

//  The day a payment dated day reaches the bank: weekends move to Monday.
static int32_t
s_business_day (int32_t day)
{
    int w = s_weekday (day);
    return w == 5 ? day + 2 : w == 6 ? day + 1 : day;
}

//  The same day months earlier (clamped to the month's last day).
static int32_t
s_months_before (int32_t day, int months)
{
    int y, m, d;
    date_to_ymd (day, &y, &m, &d);
    m -= months;
    while (m < 1) {
        m += 12;
        y--;
    }
    if (d > date_days_in_month (y, m))
        d = date_days_in_month (y, m);
    int32_t out;
    if (date_from_ymd (y, m, d, &out))
        return day - 30 * months;
    return out;
}

//  Orders by month, relative: January and late December are quiet, the
//  autumn restocking busy.
static const double s_season [13] = {
    0, 0.80, 0.86, 0.98, 1.00, 1.05, 1.04, 0.94, 0.98, 1.06, 1.12, 1.18, 1.00
};

//  ---------------------------------------------------------------------
//  A string set (demo: unique names and references)

typedef struct {
    char **slots;               //  open addressing; NULL is empty
    size_t cap;                 //  power of two
    size_t count;               //  strings held
} strset_t;

static uint64_t
s_hash (const char *text)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *text; text++)
        h = (h ^ (unsigned char) *text) * 1099511628211ULL;
    return h;
}

//  Adds text (copied) unless present. Returns 1 added, 0 present, -1 no
//  memory.
static int
strset_add (strset_t *self, const char *text)
{
    if ((self->count + 1) * 2 > self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 1024;
        char **slots = calloc (cap, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < self->cap; i++)
            if (self->slots [i]) {
                size_t at = s_hash (self->slots [i]) & (cap - 1);
                while (slots [at])
                    at = (at + 1) & (cap - 1);
                slots [at] = self->slots [i];
            }
        free (self->slots);
        self->slots = slots;
        self->cap = cap;
    }
    size_t at = s_hash (text) & (self->cap - 1);
    while (self->slots [at]) {
        if (strcmp (self->slots [at], text) == 0)
            return 0;
        at = (at + 1) & (self->cap - 1);
    }
    self->slots [at] = strdup (text);
    if (!self->slots [at])
        return -1;
    self->count++;
    return 1;
}

static void
strset_free (strset_t *self)
{
    for (size_t i = 0; i < self->cap; i++)
        free (self->slots [i]);
    free (self->slots);
    memset (self, 0, sizeof *self);
}

//  ---------------------------------------------------------------------
//  Options

typedef struct {
    const char *command;        //  demo, customers, invoices, payments
    const char *out;            //  --out
    uint64_t seed;              //  --seed
    long long count;            //  --count
    long long customers;        //  --customers
    long long invoices;         //  --invoices (payments: how many invoices)
    int months;                 //  --months
    int32_t as_of;              //  --as-of
    const char *currency;       //  --currency
    int quiet;                  //  --quiet
} options_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: recoup-gen COMMAND [options]\n"
        "\n"
        "Generated receivables data in recoup's native import format (CSV).\n"
        "\n"
        "commands:\n"
        "  demo --out DIR [--seed N] [--customers 300] [--as-of YYYY-MM-DD]\n"
        "       [--months 12] [--currency USD]\n"
        "      a small wholesale business: DIR/customers.csv, invoices.csv and\n"
        "      payments.csv, a year of invoices up to the as-of date (default\n"
        "      today, UTC) and what was paid of them\n"
        "  customers --count K [--seed N] [--currency USD] [--out FILE|-]\n"
        "      customers C00001..CK\n"
        "  invoices --count N [--customers K] [--seed N] [--as-of DATE]\n"
        "       [--currency USD] [--out FILE|-]\n"
        "      N invoices over customers C00001..CK (default 2000), issued over\n"
        "      the year up to the as-of date, oldest first; constant memory\n"
        "  payments --count N [--invoices M] [--customers K] [--seed N]\n"
        "       [--as-of DATE] [--currency USD] [--out FILE|-]\n"
        "      full payments of the N oldest of the M invoices (default M = N)\n"
        "      that `invoices --count M` writes with the same seed, customers,\n"
        "      as-of date and currency, naming them\n"
        "\n"
        "options:\n"
        "  --seed N     the same seed and options give the same files (default 1)\n"
        "  --out FILE   '-' or none: standard output\n"
        "  --quiet      no summary on standard error\n"
        "\n"
        "Exit status: 0 written, 1 could not write, 2 bad usage.\n");
}

static int
s_usage_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
static int
s_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "recoup-gen: ");
    vfprintf (stderr, format, args);
    va_end (args);
    fprintf (stderr, "\n(recoup-gen --help for usage)\n");
    return EXIT_USAGE;
}

//  Parses a whole non-negative number no greater than max. Returns 0 or -1.
static int
s_parse_count (const char *text, long long max, long long *value)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long n = strtoull (text, &end, 10);
    if (errno || *end || n > (unsigned long long) max)
        return -1;
    *value = (long long) n;
    return 0;
}

//  Parses the command line into *options. Returns 0, -1 when --help was
//  printed, or EXIT_USAGE after a message.
static int
s_parse_options (int argc, char **argv, options_t *options)
{
    memset (options, 0, sizeof *options);
    options->seed = 1;
    options->count = -1;
    options->customers = -1;
    options->invoices = -1;
    options->months = 12;
    options->as_of = NO_DATE;
    options->currency = "USD";
    if (argc < 2)
        return s_usage_error ("no command given");
    if (strcmp (argv [1], "--help") == 0 || strcmp (argv [1], "-h") == 0
    ||  strcmp (argv [1], "help") == 0) {
        s_usage (stdout);
        return -1;
    }
    options->command = argv [1];
    int demo = strcmp (options->command, "demo") == 0;
    int payments = strcmp (options->command, "payments") == 0;
    int invoices = strcmp (options->command, "invoices") == 0;
    int customers = strcmp (options->command, "customers") == 0;
    if (!demo && !payments && !invoices && !customers)
        return s_usage_error ("unknown command '%s'", options->command);

    for (int i = 2; i < argc; i++) {
        const char *name = argv [i];
        const char *value = NULL;
        char option [32];
        const char *equals = strchr (name, '=');
        if (strncmp (name, "--", 2) == 0 && equals && (size_t) (equals - name) < sizeof option) {
            memcpy (option, name, (size_t) (equals - name));
            option [equals - name] = 0;
            name = option;
            value = equals + 1;
        }
        if (strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0) {
            s_usage (stdout);
            return -1;
        }
        if (strcmp (name, "--quiet") == 0 || strcmp (name, "-q") == 0) {
            options->quiet = 1;
            continue;
        }
        static const char *const valued [] = {
            "--out", "--seed", "--count", "--customers", "--invoices",
            "--months", "--as-of", "--currency"
        };
        int known = 0;
        for (int k = 0; k < COUNT (valued); k++)
            known |= strcmp (name, valued [k]) == 0;
        if (!known)
            return s_usage_error ("%s: unknown option '%s'", options->command, argv [i]);
        if (!value) {
            if (i + 1 >= argc)
                return s_usage_error ("%s needs a value", name);
            value = argv [++i];
        }
        long long n;
        if (strcmp (name, "--out") == 0) {
            if (!*value)
                return s_usage_error ("--out needs a path");
            options->out = value;
        }
        else
        if (strcmp (name, "--seed") == 0) {
            char *end;
            errno = 0;
            options->seed = strtoull (value, &end, 0);
            if (errno || *end || !*value || *value == '-')
                return s_usage_error ("--seed wants a number, got '%s'", value);
        }
        else
        if (strcmp (name, "--count") == 0) {
            if (s_parse_count (value, 1000000000LL, &n))
                return s_usage_error ("--count wants a number up to 1000000000, got '%s'", value);
            options->count = n;
        }
        else
        if (strcmp (name, "--customers") == 0) {
            if (s_parse_count (value, demo ? 100000 : 9999999, &n) || n < 1)
                return s_usage_error ("--customers wants a number from 1 to %d, got '%s'",
                                      demo ? 100000 : 9999999, value);
            options->customers = n;
        }
        else
        if (strcmp (name, "--invoices") == 0) {
            if (s_parse_count (value, 1000000000LL, &n))
                return s_usage_error ("--invoices wants a number, got '%s'", value);
            options->invoices = n;
        }
        else
        if (strcmp (name, "--months") == 0) {
            if (s_parse_count (value, 120, &n) || n < 1)
                return s_usage_error ("--months wants 1 to 120, got '%s'", value);
            options->months = (int) n;
        }
        else
        if (strcmp (name, "--as-of") == 0) {
            char err [128];
            if (date_parse_iso (value, &options->as_of, err, sizeof err))
                return s_usage_error ("--as-of: %s", err);
        }
        else
        if (strcmp (name, "--currency") == 0) {
            if (money_currency_exponent (value) < 0)
                return s_usage_error ("--currency: '%s' is not an ISO 4217 currency "
                                      "with a minor unit", value);
            options->currency = value;
        }
    }
    if (options->as_of == NO_DATE)
        options->as_of = date_today_utc ();
    if (demo) {
        if (!options->out)
            return s_usage_error ("demo needs --out DIR");
        if (options->count >= 0 || options->invoices >= 0)
            return s_usage_error ("demo takes --customers, not --count or --invoices");
        if (options->customers < 0)
            options->customers = 300;
        int32_t first = s_months_before (options->as_of, options->months);
        if (first - 400 < DATE_MIN)
            return s_usage_error ("--as-of is too early");
    }
    else {
        if (options->count < 0)
            return s_usage_error ("%s needs --count N", options->command);
        if (options->customers < 0)
            options->customers = customers ? options->count : 2000;
        if (customers) {
            if (options->customers != options->count)
                return s_usage_error ("customers: --count is the number of customers");
            if (options->count < 1 || options->count > 9999999)
                return s_usage_error ("customers: --count wants 1 to 9999999");
            options->customers = options->count;
        }
        if (payments) {
            if (options->invoices < 0)
                options->invoices = options->count;
            if (options->count > options->invoices)
                return s_usage_error ("payments: --count %lld is more than --invoices %lld",
                                      options->count, options->invoices);
        }
        else
        if (options->invoices >= 0)
            return s_usage_error ("--invoices is for payments");
        if (options->as_of - 400 < DATE_MIN || options->as_of > DATE_MAX - 1000)
            return s_usage_error ("--as-of is out of range");
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Streams: the import benchmark's customers, invoices and payments

enum { STREAM_CUSTOMER = 1, STREAM_INVOICE, STREAM_PAYMENT, STREAM_DEMO };

//  Writes the header of the customers file.
static void
s_customers_header (out_t *out)
{
    static const char *const header [] = {
        "customer", "name", "email", "phone", "timezone", "language",
        "currency", "terms", "credit_limit"
    };
    out_record (out, header, COUNT (header));
}

//  Writes one customer.
static void
s_customer_write (out_t *out, const customer_t *c, const char *currency)
{
    char limit [MONEY_TEXT_MAX];
    money_format (c->credit_limit, currency, limit, sizeof limit);
    const char *fields [] = {
        c->ref, c->name, c->email, c->phone, c->timezone, c->language,
        currency, s_terms [c->terms].text, limit
    };
    out_record (out, fields, COUNT (fields));
    out->rows++;
}

//  Home region of a currency: where a business invoicing in it is.
static const region_t *
s_home_region (const char *currency)
{
    for (int i = 0; i < REGION_COUNT; i++)
        if (strcmp (s_regions [i].currency, currency) == 0)
            return &s_regions [i];
    return &s_regions [0];
}

static int
s_stream_customers (const options_t *options, out_t *out, char *summary, size_t size)
{
    const region_t *home = s_home_region (options->currency);
    s_customers_header (out);
    for (long long i = 0; i < options->count; i++) {
        rng_t rng;
        rng_seed (&rng, options->seed, STREAM_CUSTOMER, (uint64_t) i);
        customer_t c;
        customer_model (&c, &rng);
        customer_describe (&c, home, options->currency, &rng);
        snprintf (c.ref, sizeof c.ref, "C%05lld", i + 1);
        s_customer_write (out, &c, options->currency);
    }
    snprintf (summary, size, "%lld customers", out->rows);
    return 0;
}

//  What the streams need of each customer, computed once: O(customers).
typedef struct {
    double mu;                  //  log of the typical order, USD
    double lateness;            //  mean days paid after due
    int16_t terms_days;         //  due after issue
    uint8_t pays;               //  PAYS_*
    uint8_t method;             //  METHOD_*
} stream_customer_t;

static stream_customer_t *
s_stream_customers_model (const options_t *options)
{
    stream_customer_t *table = calloc ((size_t) options->customers, sizeof *table);
    if (!table)
        return NULL;
    for (long long i = 0; i < options->customers; i++) {
        rng_t rng;
        rng_seed (&rng, options->seed, STREAM_CUSTOMER, (uint64_t) i);
        customer_t c;
        customer_model (&c, &rng);
        table [i].mu = c.mu;
        table [i].lateness = c.lateness;
        table [i].terms_days = (int16_t) s_terms [c.terms].days;
        table [i].pays = (uint8_t) c.pays;
        table [i].method = (uint8_t) c.method;
    }
    return table;
}

typedef struct {
    long long customer;         //  0-based customer index
    int32_t issued;             //  issue date
    int32_t due;                //  due date
    int64_t amount;             //  minor units
    rng_t rng;                  //  the row's generator, for the payment
} stream_invoice_t;

//  Invoice i of count: a function of (seed, i) only. Issue dates rise
//  with i over the year up to as_of; customers are half uniform, half
//  skewed towards the first ones (a few big accounts).
static void
s_stream_invoice (const options_t *options, const stream_customer_t *table,
                  long long i, long long count, double minor_per_usd,
                  stream_invoice_t *inv)
{
    rng_seed (&inv->rng, options->seed, STREAM_INVOICE, (uint64_t) i);
    uint64_t r = rng_next (&inv->rng);
    long long k = options->customers;
    if (r & 1)
        inv->customer = (long long) (((unsigned __int128) (r >> 1) * (uint64_t) k) >> 63);
    else {
        double u = (double) (r >> 11) * 0x1.0p-53;
        inv->customer = (long long) (u * u * (double) k);
    }
    if (inv->customer >= k)
        inv->customer = k - 1;
    const stream_customer_t *c = &table [inv->customer];
    inv->issued = options->as_of - 364 + (int32_t) ((i * 365) / count);
    inv->due = inv->issued + c->terms_days;
    double major = s_exp (c->mu + 0.6 * rng_normal (&inv->rng));
    if (major < 5)
        major = 5;
    inv->amount = s_round (major * minor_per_usd);
    if (inv->amount < 1)
        inv->amount = 1;
}

//  Minor units of currency per US dollar.
static double
s_minor_per_usd (const char *currency)
{
    double scale = s_per_usd (currency);
    for (int i = 0; i < money_currency_exponent (currency); i++)
        scale *= 10;
    return scale;
}

//  Appends a date as YYYY-MM-DD and sep.
static void
s_put_date (chunk_t *chunk, int32_t day, char sep)
{
    char text [DATE_ISO_LEN + 2];
    date_format_iso (day, text);
    text [DATE_ISO_LEN] = sep;
    chunk_put (chunk, text, DATE_ISO_LEN + 1);
}

static int
s_stream_invoices (const options_t *options, out_t *out, char *summary, size_t size)
{
    stream_customer_t *table = s_stream_customers_model (options);
    if (!table) {
        fprintf (stderr, "recoup-gen: out of memory\n");
        return EXIT_FAILED;
    }
    static chunk_t chunk;
    chunk.file = out->file;
    chunk.len = 0;
    static const char header [] = "customer,invoice,issued,due,amount\r\n";
    chunk_put (&chunk, header, sizeof header - 1);
    double minor_per_usd = s_minor_per_usd (options->currency);
    int64_t total = 0;
    char buf [64];
    for (long long i = 0; i < options->count; i++) {
        stream_invoice_t inv;
        s_stream_invoice (options, table, i, options->count, minor_per_usd, &inv);
        size_t n = 0;
        buf [n++] = 'C';
        n += s_format_number ((uint64_t) inv.customer + 1, 5, buf + n);
        memcpy (buf + n, ",INV", 4);
        n += 4;
        n += s_format_number ((uint64_t) i + 1, 8, buf + n);
        buf [n++] = ',';
        chunk_put (&chunk, buf, n);
        s_put_date (&chunk, inv.issued, ',');
        s_put_date (&chunk, inv.due, ',');
        money_format (inv.amount, options->currency, buf, sizeof buf);
        n = strlen (buf);
        buf [n++] = '\r';
        buf [n++] = '\n';
        chunk_put (&chunk, buf, n);
        total += inv.amount;
        out->rows++;
    }
    chunk_flush (&chunk);
    free (table);
    char text [MONEY_TEXT_MAX];
    money_format (total, options->currency, text, sizeof text);
    snprintf (summary, size, "%lld invoices over %lld customers, %s %s", out->rows,
              options->customers, text, options->currency);
    return 0;
}

static int
s_stream_payments (const options_t *options, out_t *out, char *summary, size_t size)
{
    stream_customer_t *table = s_stream_customers_model (options);
    if (!table) {
        fprintf (stderr, "recoup-gen: out of memory\n");
        return EXIT_FAILED;
    }
    static chunk_t chunk;
    chunk.file = out->file;
    chunk.len = 0;
    static const char header [] = "customer,reference,received,amount,invoice,method\r\n";
    chunk_put (&chunk, header, sizeof header - 1);
    double minor_per_usd = s_minor_per_usd (options->currency);
    int64_t total = 0;
    long long late = 0;
    char buf [96];
    for (long long i = 0; i < options->count; i++) {
        stream_invoice_t inv;
        s_stream_invoice (options, table, i, options->invoices, minor_per_usd, &inv);
        const stream_customer_t *c = &table [inv.customer];
        //  Paid around the due date, as the customer usually pays.
        double offset = c->pays == PAYS_PROMPT
                      ? (double) (rng_range (&inv.rng, 4, 14) - c->terms_days)
                      : c->lateness + 4 * rng_normal (&inv.rng);
        int32_t received = inv.due + (int32_t) s_round (offset);
        if (received <= inv.issued)
            received = inv.issued + 1;
        received = s_business_day (received);
        if (received > options->as_of)
            received = options->as_of;
        if (received < inv.issued)
            received = inv.issued;
        late += received > inv.due;
        size_t n = 0;
        buf [n++] = 'C';
        n += s_format_number ((uint64_t) inv.customer + 1, 5, buf + n);
        memcpy (buf + n, ",RCT", 4);
        n += 4;
        n += s_format_number ((uint64_t) i + 1, 8, buf + n);
        buf [n++] = ',';
        chunk_put (&chunk, buf, n);
        s_put_date (&chunk, received, ',');
        money_format (inv.amount, options->currency, buf, sizeof buf);
        n = strlen (buf);
        memcpy (buf + n, ",INV", 4);
        n += 4;
        n += s_format_number ((uint64_t) i + 1, 8, buf + n);
        buf [n++] = ',';
        const char *method = s_method_names [c->method];
        size_t len = strlen (method);
        memcpy (buf + n, method, len);
        n += len;
        buf [n++] = '\r';
        buf [n++] = '\n';
        chunk_put (&chunk, buf, n);
        total += inv.amount;
        out->rows++;
    }
    chunk_flush (&chunk);
    free (table);
    char text [MONEY_TEXT_MAX];
    money_format (total, options->currency, text, sizeof text);
    snprintf (summary, size, "%lld payments of the first %lld of %lld invoices, %s %s, "
              "%.1f%% after the due date", out->rows, options->count, options->invoices,
              text, options->currency,
              out->rows ? 100.0 * (double) late / (double) out->rows : 0.0);
    return 0;
}

//  ---------------------------------------------------------------------
//  Demo: a small wholesale business over a year

//  What happens to an invoice by the as-of date.
enum {
    PLAN_OPEN,                  //  not paid yet
    PLAN_FULL,                  //  paid in full, once
    PLAN_DISCOUNT,              //  paid early, less the discount
    PLAN_PARTIAL,               //  paid in two parts (the second maybe not yet)
    PLAN_SHORT,                 //  paid less (a dispute); the rest stays open
    PLAN_ROUND_UP,              //  paid more than due (rounded up)
    PLAN_TWICE,                 //  paid, then paid again by mistake
    PLAN_ON_ACCOUNT,            //  paid with the next one, invoice not named
    PLAN_ON_ACCOUNT_2           //  ... the next one
};

typedef struct {
    int32_t issued;             //  issue date
    int32_t due;                //  due date
    int64_t amount;             //  minor units
    int32_t customer;           //  index into the customers
    int32_t number;             //  invoice number
    int32_t pay;                //  first payment's date, or NO_DATE
    int32_t pay2;               //  second payment's date, or NO_DATE
    int64_t paid;               //  first payment's amount (PARTIAL, SHORT, ROUND_UP)
    int32_t partner;            //  ON_ACCOUNT: the invoice paid with it
    uint8_t plan;               //  PLAN_*
} demo_invoice_t;

typedef struct {
    int32_t customer;           //  index into the customers
    int32_t invoice;            //  index into the invoices, -1 on account
    int32_t received;           //  date
    int64_t amount;             //  minor units
    int method;                 //  METHOD_*
    char reference [40];        //  unique per customer
} demo_payment_t;

typedef struct {
    const options_t *options;   //  what was asked
    rng_t rng;                  //  the demo's own draws
    customer_t *customers;      //  generated customers
    int customer_count;
    demo_invoice_t *invoices;   //  sorted by issue date
    size_t invoice_count;
    size_t invoice_cap;
    demo_payment_t *payments;   //  sorted by receipt
    size_t payment_count;
    size_t payment_cap;
    int32_t first;              //  first day of the period
    double minor_per_usd;       //  amounts
    int64_t major_unit;         //  minor units in one major unit
} demo_t;

//  Makes the customers: unique names, references like "HART001".
static int
s_demo_customers (demo_t *self)
{
    const options_t *options = self->options;
    const region_t *home = s_home_region (options->currency);
    self->customer_count = (int) options->customers;
    self->customers = calloc ((size_t) self->customer_count, sizeof *self->customers);
    strset_t names = { 0 }, refs = { 0 };
    int rc = self->customers ? 0 : -1;
    for (int i = 0; i < self->customer_count && rc == 0; i++) {
        customer_t *c = &self->customers [i];
        rng_t rng;
        rng_seed (&rng, options->seed, STREAM_CUSTOMER, (uint64_t) i);
        customer_model (c, &rng);
        int added = 0;
        for (int attempt = 0; attempt < 20 && added == 0; attempt++) {
            customer_describe (c, home, options->currency, &rng);
            added = strset_add (&names, c->name);
        }
        if (added == 0) {       //  twenty draws all taken: a branch
            size_t len = strlen (c->name);
            snprintf (c->name + len, sizeof c->name - len, " (%d)", i + 1);
            added = strset_add (&names, c->name);
        }
        if (added < 0) {
            rc = -1;
            break;
        }
        char slug [64], prefix [8];
        s_slug (c->name, slug, sizeof slug);
        const char *from = strncmp (slug, "the", 3) == 0 && strlen (slug) > 6 ? slug + 3 : slug;
        size_t n = 0;
        for (; from [n] && n < 4; n++)
            prefix [n] = (char) (from [n] >= 'a' ? from [n] - 'a' + 'A' : from [n]);
        prefix [n] = 0;
        added = 0;
        for (int k = 1; added == 0; k++) {
            snprintf (c->ref, sizeof c->ref, "%s%03d", prefix, k);
            added = strset_add (&refs, c->ref);
        }
        if (added < 0)
            rc = -1;
    }
    strset_free (&names);
    strset_free (&refs);
    if (rc)
        fprintf (stderr, "recoup-gen: out of memory\n");
    return rc;
}

//  When each customer orders and when it stops paying.
static void
s_demo_lifecycles (demo_t *self)
{
    int32_t as_of = self->options->as_of;
    int32_t span = as_of - self->first + 1;
    //  A demo of a few hundred customers shows at least two that stopped
    //  paying (what is over 120 days), taken from the chronically late.
    int stopped = 0;
    for (int i = 0; i < self->customer_count; i++)
        stopped += self->customers [i].pays == PAYS_STOPPED;
    for (int i = 0; i < self->customer_count && stopped < 2 && self->customer_count >= 30; i++)
        if (self->customers [i].pays == PAYS_CHRONIC) {
            self->customers [i].pays = PAYS_STOPPED;
            self->customers [i].lateness = (double) rng_range (&self->rng, 15, 45);
            stopped++;
        }
    for (int i = 0; i < self->customer_count; i++) {
        customer_t *c = &self->customers [i];
        c->first = self->first;
        c->last = as_of;
        c->stop = NO_DATE;
        c->check_no = (int) rng_range (&self->rng, 1001, 9000);
        double r = rng_unit (&self->rng);
        if (c->pays == PAYS_STOPPED) {
            //  Stopped five to nine months ago; was shipped to for a
            //  month or two more before the account went on hold.
            c->stop = as_of - (int32_t) rng_range (&self->rng, 150, 270);
            if (c->stop < self->first + span / 4)
                c->stop = self->first + span / 3;
            c->last = c->stop + (int32_t) rng_range (&self->rng, 30, 75);
            if (c->last > as_of)
                c->last = as_of;
        }
        else
        if (r < 0.10)           //  new this year
            c->first = self->first + (int32_t) rng_range (&self->rng, 0, span * 85 / 100);
        else
        if (r < 0.16)           //  stopped buying (and paid up)
            c->last = self->first + (int32_t) rng_range (&self->rng, span / 4, span * 9 / 10);
    }
}

//  Adds an invoice. Returns 0 or -1 (no memory).
static int
s_demo_add_invoice (demo_t *self, int customer, int32_t issued, int64_t amount)
{
    if (self->invoice_count == self->invoice_cap) {
        size_t cap = self->invoice_cap ? self->invoice_cap * 2 : 4096;
        demo_invoice_t *grown = realloc (self->invoices, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->invoices = grown;
        self->invoice_cap = cap;
    }
    demo_invoice_t *inv = &self->invoices [self->invoice_count++];
    memset (inv, 0, sizeof *inv);
    inv->customer = customer;
    inv->issued = issued;
    inv->due = issued + s_terms [self->customers [customer].terms].days;
    inv->amount = amount;
    inv->pay = inv->pay2 = NO_DATE;
    inv->partner = -1;
    inv->plan = PLAN_OPEN;
    return 0;
}

static int
s_invoice_order (const void *a, const void *b)
{
    const demo_invoice_t *x = a, *y = b;
    if (x->issued != y->issued)
        return x->issued < y->issued ? -1 : 1;
    if (x->customer != y->customer)
        return x->customer < y->customer ? -1 : 1;
    return x->amount < y->amount ? -1 : x->amount > y->amount;
}

//  Orders: business days, seasonal, at each customer's own rate.
static int
s_demo_invoices (demo_t *self)
{
    for (int i = 0; i < self->customer_count; i++) {
        const customer_t *c = &self->customers [i];
        for (int32_t day = c->first; day <= c->last; day++) {
            int y, m, d;
            date_to_ymd (day, &y, &m, &d);
            int w = s_weekday (day);
            double p = c->rate / 21.7 * s_season [m];
            if (w == 6 || (m == 1 && d == 1) || (m == 12 && d == 25))
                continue;
            if (w == 5)
                p *= 0.05;
            if (m == 12 && d >= 24)
                p *= 0.4;
            if (!rng_chance (&self->rng, p))
                continue;
            double major = s_exp (c->mu + 0.6 * rng_normal (&self->rng));
            if (rng_chance (&self->rng, 0.004))     //  a bulk order
                major *= (double) rng_range (&self->rng, 3, 8);
            if (major < 15)
                major = 15;
            if (s_demo_add_invoice (self, i, day, s_round (major * self->minor_per_usd)))
                return -1;
        }
    }
    qsort (self->invoices, self->invoice_count, sizeof *self->invoices, s_invoice_order);
    for (size_t i = 0; i < self->invoice_count; i++)
        self->invoices [i].number = 100001 + (int32_t) i;
    return 0;
}

//  The last business day on or before day.
static int32_t
s_business_day_before (int32_t day)
{
    while (s_weekday (day) >= 5)
        day--;
    return day;
}

//  When each invoice gets paid, as its customer pays.
static void
s_demo_plan (demo_t *self)
{
    int32_t as_of = self->options->as_of;
    for (size_t i = 0; i < self->invoice_count; i++) {
        demo_invoice_t *inv = &self->invoices [i];
        const customer_t *c = &self->customers [inv->customer];
        const terms_row_t *terms = &s_terms [c->terms];
        int discount = 0;
        int32_t pay;
        if (terms->discount_bp
        &&  (c->pays == PAYS_PROMPT || rng_chance (&self->rng, c->pays == PAYS_REGULAR ? 0.2 : 0.03))) {
            //  Inside the discount window, on a business day.
            pay = s_business_day_before (inv->issued + (int32_t) rng_range (&self->rng, 3, terms->discount_days));
            if (pay <= inv->issued)
                pay = inv->issued + 1;
            discount = 1;
        }
        else
        if (c->pays == PAYS_PROMPT)
            pay = inv->issued + (int32_t) rng_range (&self->rng, 4, terms->days < 14 ? terms->days : 14);
        else {
            double sd = c->pays == PAYS_REGULAR ? 4 : c->pays == PAYS_SLOW ? 6
                      : c->pays == PAYS_CHRONIC ? 15 : 8;
            double offset = c->lateness + sd * rng_normal (&self->rng);
            if (c->pays == PAYS_REGULAR && rng_chance (&self->rng, 0.05))
                offset += (double) rng_range (&self->rng, 10, 40);     //  a slip
            if (c->pays == PAYS_CHRONIC) {
                if (offset < 28)
                    offset = 28 + (double) rng_range (&self->rng, 0, 10);
                if (offset > 120)
                    offset = 120 - (double) rng_range (&self->rng, 0, 10);
            }
            pay = inv->due + (int32_t) s_round (offset);
        }
        if (pay <= inv->issued)
            pay = inv->issued + 1;
        if (!discount)
            pay = s_business_day (pay);
        if (pay > as_of || (c->stop != NO_DATE && pay >= c->stop))
            continue;
        inv->pay = pay;
        inv->plan = discount ? PLAN_DISCOUNT : PLAN_FULL;
    }
}

//  A random invoice paid in full by a customer still paying, or -1.
static long
s_demo_pick_full (demo_t *self)
{
    for (int tries = 0; tries < 10000 && self->invoice_count; tries++) {
        long i = (long) rng_range (&self->rng, 0, (int64_t) self->invoice_count - 1);
        const demo_invoice_t *inv = &self->invoices [i];
        if (inv->plan == PLAN_FULL
        &&  self->customers [inv->customer].pays != PAYS_STOPPED)
            return i;
    }
    return -1;
}

//  Amounts rounded down to whole major units, but at least one minor unit.
static int64_t
s_round_down (const demo_t *self, int64_t amount)
{
    int64_t rounded = amount / self->major_unit * self->major_unit;
    return rounded > 0 ? rounded : 1;
}

//  The odd cases: partial and short payments, payments on account,
//  overpayments.
static void
s_demo_specials (demo_t *self)
{
    int32_t as_of = self->options->as_of;
    int shorts = 0;
    for (size_t i = 0; i < self->invoice_count; i++) {
        demo_invoice_t *inv = &self->invoices [i];
        if (inv->plan != PLAN_FULL || inv->amount < 2 * self->major_unit)
            continue;
        if (rng_chance (&self->rng, 0.02)) {
            inv->plan = PLAN_PARTIAL;
            inv->paid = s_round_down (self, inv->amount
                                      * rng_range (&self->rng, 30, 70) / 100);
            int32_t second = s_business_day (inv->pay + (int32_t) rng_range (&self->rng, 14, 45));
            inv->pay2 = second <= as_of ? second : NO_DATE;
        }
        else
        if (rng_chance (&self->rng, 0.005)) {
            inv->plan = PLAN_SHORT;
            inv->paid = inv->amount - inv->amount * rng_range (&self->rng, 5, 30) / 100;
            shorts++;
        }
    }
    for (int tries = 0; shorts < 3 && tries < 50; tries++) {
        long i = s_demo_pick_full (self);
        if (i < 0)
            break;
        demo_invoice_t *inv = &self->invoices [i];
        if (inv->amount < 2 * self->major_unit)
            continue;
        inv->plan = PLAN_SHORT;
        inv->paid = inv->amount - inv->amount * rng_range (&self->rng, 5, 30) / 100;
        shorts++;
    }
    //  Rounded up to the next hundred.
    long i = s_demo_pick_full (self);
    if (i >= 0) {
        demo_invoice_t *inv = &self->invoices [i];
        int64_t unit = 100 * self->major_unit;
        inv->plan = PLAN_ROUND_UP;
        inv->paid = (inv->amount / unit + 1) * unit;
    }
    //  Paid twice: the second time a week to a month later.
    for (int tries = 0; tries < 50; tries++) {
        i = s_demo_pick_full (self);
        if (i < 0)
            break;
        demo_invoice_t *inv = &self->invoices [i];
        int32_t again = s_business_day (inv->pay + (int32_t) rng_range (&self->rng, 7, 30));
        if (again > as_of)
            continue;
        inv->plan = PLAN_TWICE;
        inv->pay2 = again;
        break;
    }
    //  Two invoices paid with one payment that names neither.
    for (int made = 0, tries = 0; made < 2 && tries < 200; tries++) {
        i = s_demo_pick_full (self);
        if (i < 0)
            break;
        demo_invoice_t *inv = &self->invoices [i];
        size_t j = (size_t) i + 1;
        while (j < self->invoice_count && self->invoices [j].customer != inv->customer)
            j++;
        if (j == self->invoice_count || self->invoices [j].plan != PLAN_FULL)
            continue;
        demo_invoice_t *next = &self->invoices [j];
        inv->plan = PLAN_ON_ACCOUNT;
        inv->partner = (int32_t) j;
        inv->pay = next->pay > inv->pay ? next->pay : inv->pay;
        next->plan = PLAN_ON_ACCOUNT_2;
        next->pay = inv->pay;
        made++;
    }
}

//  Adds a payment. Returns 0 or -1 (no memory).
static int
s_demo_add_payment (demo_t *self, int32_t customer, long invoice, int32_t received,
                    int64_t amount)
{
    if (self->payment_count == self->payment_cap) {
        size_t cap = self->payment_cap ? self->payment_cap * 2 : 4096;
        demo_payment_t *grown = realloc (self->payments, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->payments = grown;
        self->payment_cap = cap;
    }
    demo_payment_t *p = &self->payments [self->payment_count++];
    memset (p, 0, sizeof *p);
    p->customer = customer;
    p->invoice = (int32_t) invoice;
    p->received = received;
    p->amount = amount;
    return 0;
}

static const demo_t *s_sorting;     //  for s_payment_order

static int
s_payment_order (const void *a, const void *b)
{
    const demo_payment_t *x = a, *y = b;
    if (x->received != y->received)
        return x->received < y->received ? -1 : 1;
    if (x->customer != y->customer)
        return strcmp (s_sorting->customers [x->customer].ref,
                       s_sorting->customers [y->customer].ref);
    if (x->invoice != y->invoice)
        return x->invoice < y->invoice ? -1 : 1;
    return x->amount < y->amount ? -1 : x->amount > y->amount;
}

//  The payments the plans make, in order of receipt, with references.
static int
s_demo_payments (demo_t *self)
{
    for (size_t i = 0; i < self->invoice_count; i++) {
        const demo_invoice_t *inv = &self->invoices [i];
        int rc = 0;
        long k = (long) i;
        switch (inv->plan) {
            case PLAN_FULL:
                rc = s_demo_add_payment (self, inv->customer, k, inv->pay, inv->amount);
                break;
            case PLAN_DISCOUNT: {
                const terms_row_t *terms = &s_terms [self->customers [inv->customer].terms];
                int64_t discount = (inv->amount * terms->discount_bp + 5000) / 10000;
                rc = s_demo_add_payment (self, inv->customer, k, inv->pay,
                                         inv->amount - discount);
                break;
            }
            case PLAN_PARTIAL:
                rc = s_demo_add_payment (self, inv->customer, k, inv->pay, inv->paid);
                if (rc == 0 && inv->pay2 != NO_DATE)
                    rc = s_demo_add_payment (self, inv->customer, k, inv->pay2,
                                             inv->amount - inv->paid);
                break;
            case PLAN_SHORT:
            case PLAN_ROUND_UP:
                rc = s_demo_add_payment (self, inv->customer, k, inv->pay, inv->paid);
                break;
            case PLAN_TWICE:
                rc = s_demo_add_payment (self, inv->customer, k, inv->pay, inv->amount);
                if (rc == 0)
                    rc = s_demo_add_payment (self, inv->customer, k, inv->pay2, inv->amount);
                break;
            case PLAN_ON_ACCOUNT:
                rc = s_demo_add_payment (self, inv->customer, -1, inv->pay, inv->amount
                                         + self->invoices [inv->partner].amount);
                break;
            default:
                break;
        }
        if (rc)
            return -1;
    }
    s_sorting = self;
    qsort (self->payments, self->payment_count, sizeof *self->payments, s_payment_order);
    //  Each customer's own way of paying; large sums go by wire.
    for (size_t i = 0; i < self->payment_count; i++) {
        demo_payment_t *p = &self->payments [i];
        customer_t *c = &self->customers [p->customer];
        p->method = c->method;
        if (p->method == METHOD_CARD && (double) p->amount >= 5000 * self->minor_per_usd)
            p->method = METHOD_ACH;
        if ((double) p->amount >= 25000 * self->minor_per_usd && rng_chance (&self->rng, 0.5))
            p->method = METHOD_WIRE;
        int y, m, d;
        date_to_ymd (p->received, &y, &m, &d);
        c->pay_seq++;
        if (p->method == METHOD_CHECK) {
            snprintf (p->reference, sizeof p->reference, "CHK-%d", c->check_no);
            c->check_no += 1 + (rng_chance (&self->rng, 0.3) ? (int) rng_range (&self->rng, 1, 4) : 0);
        }
        else
            snprintf (p->reference, sizeof p->reference, "%s-%04d%02d%02d-%d",
                      s_method_refs [p->method], y, m, d, c->pay_seq);
    }
    return 0;
}

static int
s_ref_order (const void *a, const void *b)
{
    return strcmp ((*(const customer_t *const *) a)->ref,
                   (*(const customer_t *const *) b)->ref);
}

//  Writes DIR/customers.csv, invoices.csv and payments.csv.
static int
s_demo_write (demo_t *self)
{
    const options_t *options = self->options;
    const char *currency = options->currency;
    char path [4096];
    out_t out;
    int rc = 0;

    //  Customers, by reference.
    const customer_t **order = calloc ((size_t) self->customer_count, sizeof *order);
    if (!order)
        return -1;
    for (int i = 0; i < self->customer_count; i++)
        order [i] = &self->customers [i];
    qsort (order, (size_t) self->customer_count, sizeof *order, s_ref_order);
    snprintf (path, sizeof path, "%s/customers.csv", options->out);
    if (out_open (&out, path, 1)) {
        free (order);
        return -1;
    }
    s_customers_header (&out);
    for (int i = 0; i < self->customer_count; i++)
        s_customer_write (&out, order [i], currency);
    free (order);
    if (out_close (&out, 1))
        return -1;

    snprintf (path, sizeof path, "%s/invoices.csv", options->out);
    if (out_open (&out, path, 1))
        return -1;
    static const char *const invoice_header [] = {
        "customer", "invoice", "issued", "due", "amount", "currency", "terms"
    };
    out_record (&out, invoice_header, COUNT (invoice_header));
    for (size_t i = 0; i < self->invoice_count; i++) {
        const demo_invoice_t *inv = &self->invoices [i];
        const customer_t *c = &self->customers [inv->customer];
        char number [24], issued [DATE_ISO_LEN + 1], due [DATE_ISO_LEN + 1];
        char amount [MONEY_TEXT_MAX];
        snprintf (number, sizeof number, "INV-%d", inv->number);
        date_format_iso (inv->issued, issued);
        date_format_iso (inv->due, due);
        money_format (inv->amount, currency, amount, sizeof amount);
        const char *fields [] = {
            c->ref, number, issued, due, amount, currency, s_terms [c->terms].text
        };
        out_record (&out, fields, COUNT (fields));
        out.rows++;
    }
    if (out_close (&out, 1))
        return -1;

    snprintf (path, sizeof path, "%s/payments.csv", options->out);
    if (out_open (&out, path, 1))
        return -1;
    static const char *const payment_header [] = {
        "customer", "reference", "received", "amount", "invoice", "currency", "method"
    };
    out_record (&out, payment_header, COUNT (payment_header));
    for (size_t i = 0; i < self->payment_count; i++) {
        const demo_payment_t *p = &self->payments [i];
        char number [24] = "", received [DATE_ISO_LEN + 1], amount [MONEY_TEXT_MAX];
        if (p->invoice >= 0)
            snprintf (number, sizeof number, "INV-%d", self->invoices [p->invoice].number);
        date_format_iso (p->received, received);
        money_format (p->amount, currency, amount, sizeof amount);
        const char *fields [] = {
            self->customers [p->customer].ref, p->reference, received, amount,
            number, currency, s_method_names [p->method]
        };
        out_record (&out, fields, COUNT (fields));
        out.rows++;
    }
    rc = out_close (&out, 1);
    return rc;
}

//  Prints what was generated: counts, totals, lateness, aging.
static void
s_demo_summary (const demo_t *self)
{
    const options_t *options = self->options;
    const char *currency = options->currency;
    int32_t as_of = options->as_of;
    int profiles [PAYS_COUNT] = { 0 };
    for (int i = 0; i < self->customer_count; i++)
        profiles [self->customers [i].pays]++;
    int64_t invoiced = 0, received = 0, open = 0, unapplied = 0, discounts = 0;
    int64_t buckets [6] = { 0 };
    static const char *const bucket_names [6] = {
        "current", "1-30", "31-60", "61-90", "91-120", "over-120"
    };
    long paid = 0, late = 0, plans [PLAN_ON_ACCOUNT_2 + 1] = { 0 };
    long days [400] = { 0 };
    for (size_t i = 0; i < self->invoice_count; i++) {
        const demo_invoice_t *inv = &self->invoices [i];
        invoiced += inv->amount;
        plans [inv->plan]++;
        int64_t settled = 0;
        switch (inv->plan) {
            case PLAN_OPEN:     settled = 0; break;
            case PLAN_PARTIAL:  settled = inv->pay2 != NO_DATE ? inv->amount : inv->paid; break;
            case PLAN_SHORT:    settled = inv->paid; break;
            case PLAN_ROUND_UP: settled = inv->amount; unapplied += inv->paid - inv->amount; break;
            case PLAN_TWICE:    settled = inv->amount; unapplied += inv->amount; break;
            case PLAN_DISCOUNT:
                settled = inv->amount;
                discounts += (inv->amount * s_terms [self->customers [inv->customer].terms].discount_bp
                              + 5000) / 10000;
                break;
            default:            settled = inv->amount; break;
        }
        if (inv->plan != PLAN_OPEN) {
            paid++;
            late += inv->pay > inv->due;
            int32_t took = inv->pay - inv->issued;
            days [took < 399 ? took : 399]++;
        }
        int64_t balance = inv->amount - settled;
        if (balance > 0) {
            open += balance;
            int32_t past = as_of - inv->due;
            int b = past <= 0 ? 0 : past <= 30 ? 1 : past <= 60 ? 2 : past <= 90 ? 3
                  : past <= 120 ? 4 : 5;
            buckets [b] += balance;
        }
    }
    for (size_t i = 0; i < self->payment_count; i++)
        received += self->payments [i].amount;
    long median = 0, seen = 0;
    for (int d = 0; d < 400 && paid; d++) {
        seen += days [d];
        if (seen * 2 >= paid) {
            median = d;
            break;
        }
    }
    char a [MONEY_TEXT_MAX], b [MONEY_TEXT_MAX], first [DATE_ISO_LEN + 1], last [DATE_ISO_LEN + 1];
    date_format_iso (self->first, first);
    date_format_iso (as_of, last);
    fprintf (stderr, "recoup-gen demo: seed %llu, %s to %s, %s, in %s\n",
             (unsigned long long) options->seed, first, last, currency, options->out);
    fprintf (stderr, "  customers  %d:", self->customer_count);
    for (int k = 0; k < PAYS_COUNT; k++)
        fprintf (stderr, " %d %s%s", profiles [k], s_pays_names [k], k + 1 < PAYS_COUNT ? "," : "\n");
    money_format (invoiced, currency, a, sizeof a);
    fprintf (stderr, "  invoices   %zu, %s %s\n", self->invoice_count, a, currency);
    money_format (received, currency, a, sizeof a);
    money_format (discounts, currency, b, sizeof b);
    fprintf (stderr, "  payments   %zu, %s %s: %ld with the early discount (%s), %ld partial, "
             "%ld short, %ld on account, %ld overpaid\n", self->payment_count, a, currency,
             plans [PLAN_DISCOUNT], b, plans [PLAN_PARTIAL], plans [PLAN_SHORT],
             plans [PLAN_ON_ACCOUNT], plans [PLAN_ROUND_UP] + plans [PLAN_TWICE]);
    fprintf (stderr, "  paid       %ld invoices, %.1f%% after the due date, median %ld days "
             "from issue\n", paid, paid ? 100.0 * (double) late / (double) paid : 0.0, median);
    money_format (open, currency, a, sizeof a);
    fprintf (stderr, "  open       %ld invoices unpaid, %s %s as of %s:", plans [PLAN_OPEN], a,
             currency, last);
    for (int k = 0; k < 6; k++) {
        money_format (buckets [k], currency, b, sizeof b);
        fprintf (stderr, " %s %s%s", bucket_names [k], b, k < 5 ? "," : "\n");
    }
    money_format (unapplied, currency, a, sizeof a);
    fprintf (stderr, "  unapplied  %s %s of overpayments\n", a, currency);
}

//  Creates dir and its parents (mkdir -p). Returns 0 or -1 with a message.
static int
s_make_dirs (const char *dir)
{
    char path [4096];
    if (snprintf (path, sizeof path, "%s", dir) >= (int) sizeof path) {
        fprintf (stderr, "recoup-gen: path too long: %s\n", dir);
        return -1;
    }
    for (char *p = path + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char keep = *p;
            *p = 0;
            if (mkdir (path, 0777) && errno != EEXIST) {
                fprintf (stderr, "recoup-gen: cannot create %s: %s\n", path, strerror (errno));
                return -1;
            }
            *p = keep;
            if (!keep)
                break;
        }
    }
    struct stat st;
    if (stat (dir, &st) || !S_ISDIR (st.st_mode)) {
        fprintf (stderr, "recoup-gen: %s is not a directory\n", dir);
        return -1;
    }
    return 0;
}

static int
s_demo (const options_t *options)
{
    if (s_make_dirs (options->out))
        return EXIT_FAILED;
    demo_t self;
    memset (&self, 0, sizeof self);
    self.options = options;
    rng_seed (&self.rng, options->seed, STREAM_DEMO, 0);
    self.first = s_months_before (options->as_of, options->months) + 1;
    self.minor_per_usd = s_minor_per_usd (options->currency);
    self.major_unit = 1;
    for (int i = 0; i < money_currency_exponent (options->currency); i++)
        self.major_unit *= 10;
    int rc = EXIT_FAILED;
    if (s_demo_customers (&self))
        goto done;
    s_demo_lifecycles (&self);
    if (s_demo_invoices (&self)) {
        fprintf (stderr, "recoup-gen: out of memory\n");
        goto done;
    }
    s_demo_plan (&self);
    s_demo_specials (&self);
    if (s_demo_payments (&self)) {
        fprintf (stderr, "recoup-gen: out of memory\n");
        goto done;
    }
    if (s_demo_write (&self))
        goto done;
    if (!options->quiet)
        s_demo_summary (&self);
    rc = 0;
done:
    free (self.customers);
    free (self.invoices);
    free (self.payments);
    return rc;
}

int
main (int argc, char *argv [])
{
    options_t options;
    int rc = s_parse_options (argc, argv, &options);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (strcmp (options.command, "demo") == 0)
        return s_demo (&options);
    out_t out;
    if (out_open (&out, options.out, 0))
        return EXIT_FAILED;
    char summary [256] = "";
    if (strcmp (options.command, "customers") == 0)
        rc = s_stream_customers (&options, &out, summary, sizeof summary);
    else
    if (strcmp (options.command, "invoices") == 0)
        rc = s_stream_invoices (&options, &out, summary, sizeof summary);
    else
        rc = s_stream_payments (&options, &out, summary, sizeof summary);
    if (out_close (&out, rc == 0) && rc == 0)
        rc = EXIT_FAILED;
    if (rc == 0 && !options.quiet)
        fprintf (stderr, "recoup-gen: %s\n", summary);
    return rc;
}
