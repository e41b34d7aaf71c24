/*  terms: payment terms as people write them on invoices ("net 30",
    "2/10 net 30", "due on receipt") taken apart into what the ledger
    needs: days until due, and an early-payment discount (rate in basis
    points, days it stays open).                                         */
#ifndef RECOUP_TERMS_H
#define RECOUP_TERMS_H

#include <stddef.h>

#define TERMS_TEXT_MAX 32       //  canonical text, NUL included

typedef struct {
    int days;                   //  due this many days after issue, 0..3650
    int discount_bp;            //  early-payment discount, basis points (2% = 200)
    int discount_days;          //  ... if paid within this many days of issue
} terms_t;

//  Parses terms, case-insensitively, blanks tolerated: "net 30", "Net30",
//  "n30", "due on receipt" (= net 0), "2/10 net 30", "2% 10 net 30",
//  "1.5/10 net 45". Fills *terms and, when canonical is not NULL, writes
//  the canonical text ("net 30", "2/10 net 30", "1.5/10 net 45", "due on
//  receipt") into canonical [TERMS_TEXT_MAX]. Returns 0, or -1 with the
//  reason in err. The discount window must be shorter than the terms.
int terms_parse (const char *text, terms_t *terms, char *canonical, char *err,
                 size_t errlen);

#endif
