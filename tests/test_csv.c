/*  Unit tests of csv (the streaming RFC 4180 reader and the writer) and
    mapping (mapping files for foreign exports, header matching, and the
    shipped files in deploy/mappings read end to end with money and date
    parsing). A failing check prints what was read, what was expected and
    what came back.                                                      */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "date.h"
#include "mapping.h"
#include "money.h"

#define NBSP "\xc2\xa0"

//  A temporary file holding len bytes of text, rewound for reading.
static FILE *
s_file (const char *text, size_t len)
{
    FILE *file = tmpfile ();
    assert_non_null (file);
    assert_int_equal (fwrite (text, 1, len, file), len);
    rewind (file);
    return file;
}

//  A reader over a string literal (NUL bytes inside it included).
#define s_reader(file_p, literal) \
    s_reader_of (file_p, literal, sizeof (literal) - 1)

static csv_t *
s_reader_of (FILE **file_p, const char *text, size_t len)
{
    *file_p = s_file (text, len);
    csv_t *csv = csv_new (*file_p);
    assert_non_null (csv);
    return csv;
}

static void
s_reader_end (csv_t **csv_p, FILE *file)
{
    csv_destroy (csv_p);
    assert_null (*csv_p);
    csv_destroy (csv_p);        //  safe twice
    fclose (file);
}

//  Checks that the next record starts on line and holds the given fields.
#define expect_record(csv, line, ...) \
    s_expect_record (csv, line, __FILE__, __LINE__, __VA_ARGS__, NULL)

static void
s_expect_record (csv_t *csv, long line, const char *file, int at, ...)
{
    char **fields = NULL;
    size_t count = 0;
    char err [256] = "";
    int rc = csv_next (csv, &fields, &count, err, sizeof err);
    if (rc != 1) {
        print_error ("csv_next gave %d (%s), expected a record on line %ld\n",
                     rc, err, line);
        _fail (file, at);
    }
    if (csv_line (csv) != line) {
        print_error ("record starts on line %ld, expected %ld\n",
                     csv_line (csv), line);
        _fail (file, at);
    }
    va_list args;
    va_start (args, at);
    size_t i = 0;
    const char *want;
    while ((want = va_arg (args, const char *)) != NULL) {
        if (i >= count) {
            print_error ("record on line %ld has %zu fields, expected field "
                         "%zu \"%s\"\n", line, count, i + 1, want);
            va_end (args);
            _fail (file, at);
        }
        if (strcmp (fields [i], want) != 0) {
            print_error ("line %ld field %zu is \"%s\", expected \"%s\"\n",
                         line, i + 1, fields [i], want);
            va_end (args);
            _fail (file, at);
        }
        i++;
    }
    va_end (args);
    if (i != count) {
        print_error ("record on line %ld has %zu fields, expected %zu\n",
                     line, count, i);
        _fail (file, at);
    }
}

//  Checks that csv_next returns rc (-1 or -2) with a message holding
//  each of the needles.
#define expect_error(csv, rc, ...) \
    s_expect_error (csv, rc, __FILE__, __LINE__, __VA_ARGS__, NULL)

static void
s_expect_error (csv_t *csv, int want, const char *file, int at, ...)
{
    char **fields = NULL;
    size_t count = 0;
    char err [256] = "";
    int rc = csv_next (csv, &fields, &count, err, sizeof err);
    if (rc != want) {
        print_error ("csv_next gave %d (%s), expected %d\n", rc, err, want);
        _fail (file, at);
    }
    va_list args;
    va_start (args, at);
    const char *needle;
    while ((needle = va_arg (args, const char *)) != NULL)
        if (!strstr (err, needle)) {
            print_error ("csv_next said \"%s\", expected it to say \"%s\"\n",
                         err, needle);
            va_end (args);
            _fail (file, at);
        }
    va_end (args);
}

//  Checks that the file is at its end.
static void
s_expect_end (csv_t *csv)
{
    char **fields = NULL;
    size_t count = 0;
    char err [256] = "";
    assert_int_equal (csv_next (csv, &fields, &count, err, sizeof err), 0);
    assert_int_equal (csv_next (csv, &fields, &count, err, sizeof err), 0);
}

static void
test_csv_plain_records (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "customer,name\r\nC1,Acme\r\nC2,Beta\r\n");
    expect_record (csv, 1, "customer", "name");
    expect_record (csv, 2, "C1", "Acme");
    expect_record (csv, 3, "C2", "Beta");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_quoted_fields (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file,
        "\"plain\",\"a, b, c\",\"say \"\"hi\"\"\",\"\"\"\"\n"
        "x,\"\",\",\"\n");
    expect_record (csv, 1, "plain", "a, b, c", "say \"hi\"", "\"");
    expect_record (csv, 2, "x", "", ",");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_embedded_newlines (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file,
        "\"two\nlines\",a\n"
        "\"crlf\r\ninside\",b\r\n"
        "\"three\n\nlines\",c\n"
        "last,d\n");
    expect_record (csv, 1, "two\nlines", "a");
    expect_record (csv, 3, "crlf\r\ninside", "b");
    expect_record (csv, 5, "three\n\nlines", "c");
    expect_record (csv, 8, "last", "d");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_line_ends (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "a,b\nc,d\r\ne,f\n\"g\"\r\n\"h\",\"i\"\n");
    expect_record (csv, 1, "a", "b");
    expect_record (csv, 2, "c", "d");
    expect_record (csv, 3, "e", "f");
    expect_record (csv, 4, "g");
    expect_record (csv, 5, "h", "i");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_byte_order_mark (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "\xef\xbb\xbf" "customer,name\n"
                           "\xef\xbb\xbfx,y\n");
    expect_record (csv, 1, "customer", "name");
    //  Only at the very start is it a byte order mark; later it is text.
    expect_record (csv, 2, "\xef\xbb\xbfx", "y");
    s_expect_end (csv);
    s_reader_end (&csv, file);

    csv = s_reader (&file, "\xef\xbb\xbf");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_last_record_without_line_end (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "a,b\nc,d");
    expect_record (csv, 1, "a", "b");
    expect_record (csv, 2, "c", "d");
    s_expect_end (csv);
    s_reader_end (&csv, file);

    csv = s_reader (&file, "a,\"b\"");
    expect_record (csv, 1, "a", "b");
    s_expect_end (csv);
    s_reader_end (&csv, file);

    csv = s_reader (&file, "a,");
    expect_record (csv, 1, "a", "");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_empty_fields (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, ",,\n\"\",x,\n,\"\"\n");
    expect_record (csv, 1, "", "", "");
    expect_record (csv, 2, "", "x", "");
    expect_record (csv, 3, "", "");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_blank_lines (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "a\n\nb\r\n\r\n\nc");
    expect_record (csv, 1, "a");
    expect_record (csv, 2, "");
    expect_record (csv, 3, "b");
    expect_record (csv, 4, "");
    expect_record (csv, 5, "");
    expect_record (csv, 6, "c");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_empty_file (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "");
    s_expect_end (csv);
    assert_int_equal (csv_offset (csv), 0);
    s_reader_end (&csv, file);
}

static void
test_csv_valid_utf8 (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "Förfallodatum,€,\xf0\x9f\x98\x80,"
                           "\"Åsa \"\"Ö\"\"\"\n");
    expect_record (csv, 1, "Förfallodatum", "€", "\xf0\x9f\x98\x80",
                   "Åsa \"Ö\"");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_invalid_utf8 (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file,
        "ok,1\n"
        "name,x\xc3(\n"                 //  truncated two-byte sequence
        "\"two\nlines\",\"abc\xc0\xaf\"\n"  //  overlong '/', after a line break
        "a,b,\xed\xa0\x80\n"            //  UTF-16 surrogate
        "\xe0\x80\xaf\n"                //  overlong, three bytes
        "\xf4\x90\x80\x80\n"            //  beyond U+10FFFF
        "\x80x\n"                       //  continuation byte alone
        "\xf8\n"                        //  never in UTF-8
        "next,2\n"
        "end\xe2\x82");                 //  truncated at the end of the file
    expect_record (csv, 1, "ok", "1");
    expect_error (csv, -1, "line 2, field 2: invalid UTF-8 at byte 2",
                  "truncated");
    assert_int_equal (csv_line (csv), 2);
    expect_error (csv, -1, "line 4, field 2: invalid UTF-8 at byte 4",
                  "overlong");
    assert_int_equal (csv_line (csv), 3);
    expect_error (csv, -1, "line 5, field 3: invalid UTF-8 at byte 1",
                  "surrogate");
    expect_error (csv, -1, "line 6, field 1", "overlong");
    expect_error (csv, -1, "line 7, field 1", "beyond U+10FFFF");
    expect_error (csv, -1, "line 8, field 1", "continuation byte");
    expect_error (csv, -1, "line 9, field 1", "never appears in UTF-8");
    expect_record (csv, 10, "next", "2");
    expect_error (csv, -1, "line 11, field 1: invalid UTF-8 at byte 4",
                  "truncated");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_nul_byte (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "a,b\0c\nd\n");
    expect_error (csv, -1, "line 1, field 2: a NUL byte at byte 2");
    expect_record (csv, 2, "d");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_utf16_file (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "\xff\xfe" "a\0,\0b\0");
    expect_error (csv, -2, "line 1", "UTF-16");
    expect_error (csv, -2, "UTF-16");
    s_reader_end (&csv, file);
}

static void
test_csv_quote_inside_unquoted_field (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file,
        "customer,name\n"
        "C1,Acme\n"
        "C2,Beta\n"
        "C3,12\" pipes,x\n"
        "C4,ok\n"
        " \"lead\",y\n");
    expect_record (csv, 1, "customer", "name");
    expect_record (csv, 2, "C1", "Acme");
    expect_record (csv, 3, "C2", "Beta");
    expect_error (csv, -1, "line 4, field 2: a quote inside an unquoted "
                  "field; quote the whole field");
    assert_int_equal (csv_line (csv), 4);
    expect_record (csv, 5, "C4", "ok");
    expect_error (csv, -1, "line 6, field 1: a quote inside an unquoted");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_text_after_closing_quote (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file,
        "\"abc\"x,d\n"
        "a,\"b\" ,c\n"
        "a,\"b\"\"c\"\"\"\n"
        "e,\"b\"\"\"d\"\n"
        "next\n");
    expect_error (csv, -1, "line 1, field 1: text after the closing quote");
    expect_error (csv, -1, "line 2, field 2: text after the closing quote");
    expect_record (csv, 3, "a", "b\"c\"");
    expect_error (csv, -1, "line 4, field 2: text after the closing quote");
    expect_record (csv, 5, "next");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_lone_carriage_return (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "a\rb,c\n\"q\"\rx\nd\n\"e\r\"\n");
    expect_error (csv, -1, "line 1, field 1: a carriage return (CR)");
    expect_error (csv, -1, "line 2, field 1: a carriage return (CR)");
    expect_record (csv, 3, "d");
    expect_record (csv, 4, "e\r");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_unterminated_quote (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "a,b\nc,\"open\nmore\nstill open");
    expect_record (csv, 1, "a", "b");
    expect_error (csv, -2, "line 2, field 2", "never closed");
    //  The reader stays stopped, with the same message.
    expect_error (csv, -2, "line 2, field 2", "never closed");
    s_reader_end (&csv, file);
}

static void
test_csv_record_too_big (void **state)
{
    (void) state;
    //  One record of a bit over 1 MiB in a quoted field with line breaks,
    //  then an ordinary record: it must be read, on the right line.
    size_t big = CSV_RECORD_MAX + 100;
    char *text = malloc (big + 64);
    assert_non_null (text);
    size_t len = 0;
    len += (size_t) sprintf (text + len, "first,1\n\"");
    for (size_t i = 0; i < big; i++)
        text [len++] = i % 1000 == 999 ? '\n' : 'x';
    len += (size_t) sprintf (text + len, "\",tail\nnext,2\n");
    long lines_in_big = (long) (big / 1000);

    FILE *file = s_file (text, len);
    csv_t *csv = csv_new (file);
    assert_non_null (csv);
    expect_record (csv, 1, "first", "1");
    expect_error (csv, -1, "line 2: a record longer than", "1 MiB");
    assert_int_equal (csv_line (csv), 2);
    expect_record (csv, 3 + lines_in_big, "next", "2");
    s_expect_end (csv);
    assert_int_equal (csv_offset (csv), (long long) len);
    s_reader_end (&csv, file);

    //  A record of exactly the limit is kept: fields and their NULs.
    len = 0;
    for (size_t i = 0; i < CSV_RECORD_MAX - 2; i++)
        text [len++] = 'y';
    len += (size_t) sprintf (text + len, ",\nz\n");
    file = s_file (text, len);
    csv = csv_new (file);
    char **fields;
    size_t count;
    assert_int_equal (csv_next (csv, &fields, &count, NULL, 0), 1);
    assert_int_equal (count, 2);
    assert_int_equal (strlen (fields [0]), CSV_RECORD_MAX - 2);
    expect_record (csv, 2, "z");
    s_reader_end (&csv, file);
    free (text);
}

static void
test_csv_too_many_fields (void **state)
{
    (void) state;
    size_t len = CSV_FIELDS_MAX + 1;    //  commas: one more field than allowed
    char *text = malloc (len + 16);
    assert_non_null (text);
    memset (text, ',', len);
    memcpy (text + len, "\nok\n", 4);
    FILE *file = s_file (text, len + 4);
    csv_t *csv = csv_new (file);
    expect_error (csv, -1, "line 1", "more than 65536 fields");
    expect_record (csv, 2, "ok");
    s_reader_end (&csv, file);
    free (text);
}

static void
test_csv_line_after_multiline_records (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file,
        "h1,h2\r\n"
        "\"a\r\nb\r\nc\",1\r\n"
        "\"x\"y,2\r\n"                  //  bad: text after the quote
        "\"p\nq\",\"bad \xff\"\r\n"     //  bad on its second line
        "ok,3\r\n");
    expect_record (csv, 1, "h1", "h2");
    expect_record (csv, 2, "a\r\nb\r\nc", "1");
    expect_error (csv, -1, "line 5, field 1");
    assert_int_equal (csv_line (csv), 5);
    expect_error (csv, -1, "line 7, field 2: invalid UTF-8 at byte 5");
    assert_int_equal (csv_line (csv), 6);
    expect_record (csv, 8, "ok", "3");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_offset (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "\xef\xbb\xbf" "ab,c\r\nd\n");
    assert_int_equal (csv_offset (csv), 0);
    expect_record (csv, 1, "ab", "c");
    assert_int_equal (csv_offset (csv), 9);
    expect_record (csv, 2, "d");
    assert_int_equal (csv_offset (csv), 11);
    s_expect_end (csv);
    assert_int_equal (csv_offset (csv), 11);
    s_reader_end (&csv, file);
}

static void
test_csv_separator (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "Kundnr;Total\n1001;1 234,56\n"
                           "\"a;b\";\"c,d\"\n");
    assert_int_equal (csv_set_separator (csv, '"'), -1);
    assert_int_equal (csv_set_separator (csv, '\n'), -1);
    assert_int_equal (csv_set_separator (csv, 0), -1);
    assert_int_equal (csv_set_separator (csv, (char) 0xc2), -1);
    assert_int_equal (csv_set_separator (csv, ';'), 0);
    expect_record (csv, 1, "Kundnr", "Total");
    expect_record (csv, 2, "1001", "1 234,56");
    expect_record (csv, 3, "a;b", "c,d");
    s_expect_end (csv);
    s_reader_end (&csv, file);

    csv = s_reader (&file, "a\tb c\t\"d\te\"\n");
    assert_int_equal (csv_set_separator (csv, '\t'), 0);
    expect_record (csv, 1, "a", "b c", "d\te");
    s_reader_end (&csv, file);
}

static void
test_csv_windows_1252 (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "K\xf6p,\x80 12,\"\x93q\x94\"\n"
                           "bad\x81,x\nok\n");
    csv_set_encoding (csv, CSV_ENCODING_WINDOWS_1252);
    expect_record (csv, 1, "Köp", "€ 12", "\xe2\x80\x9cq\xe2\x80\x9d");
    expect_error (csv, -1, "line 2, field 1: byte 0x81 at byte 4",
                  "Windows-1252");
    expect_record (csv, 3, "ok");
    s_expect_end (csv);
    s_reader_end (&csv, file);
}

static void
test_csv_buffer_boundaries (void **state)
{
    (void) state;
    //  Enough records to cross the read buffer many times, with multibyte
    //  characters, CRLFs and quotes falling on its edges somewhere.
    const char *record = "åäö,\"x\r\ny \"\"z\"\"\",€\r\n";
    size_t record_len = strlen (record);
    size_t records = 40000;
    char *text = malloc (record_len * records + 1);
    assert_non_null (text);
    for (size_t i = 0; i < records; i++)
        memcpy (text + i * record_len, record, record_len);
    FILE *file = s_file (text, record_len * records);
    csv_t *csv = csv_new (file);
    for (size_t i = 0; i < records; i++)
        expect_record (csv, (long) (1 + 2 * i), "åäö", "x\r\ny \"z\"",
                       "€");
    s_expect_end (csv);
    assert_int_equal (csv_offset (csv), (long long) (record_len * records));
    s_reader_end (&csv, file);
    free (text);
}

static void
test_csv_error_buffer_optional (void **state)
{
    (void) state;
    FILE *file;
    csv_t *csv = s_reader (&file, "a\"b\nc\n");
    char **fields;
    size_t count;
    assert_int_equal (csv_next (csv, &fields, &count, NULL, 0), -1);
    assert_int_equal (csv_next (csv, &fields, &count, NULL, 0), 1);
    assert_string_equal (fields [0], "c");
    char tiny [8];
    s_reader_end (&csv, file);
    csv = s_reader (&file, "a\"b\n");
    assert_int_equal (csv_next (csv, &fields, &count, tiny, sizeof tiny), -1);
    assert_string_equal (tiny, "line 1,");
    s_reader_end (&csv, file);
}

static void
test_csv_read_error (void **state)
{
    (void) state;
    FILE *file = fopen ("/", "rb");     //  a directory opens, but read fails
    assert_non_null (file);
    csv_t *csv = csv_new (file);
    expect_error (csv, -2, "line 1: cannot read the file: Is a directory");
    s_reader_end (&csv, file);
}

//  Writes a record, checks the exact bytes when want is not NULL, and
//  reads it back.
static void
s_round_trip (const char *const *fields, size_t count, const char *want)
{
    FILE *file = tmpfile ();
    assert_non_null (file);
    assert_int_equal (csv_write (file, fields, count), 0);
    long size = ftell (file);
    rewind (file);
    char bytes [512] = "";
    assert_true (size < (long) sizeof bytes);
    assert_int_equal (fread (bytes, 1, (size_t) size, file), (size_t) size);
    if (want)
        assert_string_equal (bytes, want);
    rewind (file);
    csv_t *csv = csv_new (file);
    char **got;
    size_t got_count;
    char err [256] = "";
    assert_int_equal (csv_next (csv, &got, &got_count, err, sizeof err), 1);
    assert_int_equal (got_count, count ? count : 1);
    for (size_t i = 0; i < count; i++)
        assert_string_equal (got [i], fields [i] ? fields [i] : "");
    assert_int_equal (csv_next (csv, &got, &got_count, err, sizeof err), 0);
    csv_destroy (&csv);
    fclose (file);
}

static void
test_csv_write_quotes_only_where_needed (void **state)
{
    (void) state;
    const char *fields [] = {
        "plain", "a,b", "say \"hi\"", " lead", "trail ", "in side", "",
        "line\nbreak", "cr\rhere", "crlf\r\nin", "\ttab", "Förfallodatum"
    };
    s_round_trip (fields, 12,
        "plain,\"a,b\",\"say \"\"hi\"\"\",\" lead\",\"trail \",in side,,"
        "\"line\nbreak\",\"cr\rhere\",\"crlf\r\nin\",\"\ttab\","
        "Förfallodatum\r\n");
}

static void
test_csv_write_round_trips (void **state)
{
    (void) state;
    const char *quotes [] = { "\"", "\"\"", "a\"", "\"a" };
    s_round_trip (quotes, 4, "\"\"\"\",\"\"\"\"\"\",\"a\"\"\",\"\"\"a\"\r\n");
    const char *empty [] = { "" };
    s_round_trip (empty, 1, "\r\n");
    const char *nulls [] = { NULL, "x", NULL };
    s_round_trip (nulls, 3, ",x,\r\n");
    const char *edge [] = { " ", ",", "\n", "1 234,56", "\xef\xbb\xbfz" };
    s_round_trip (edge, 5, NULL);
}

static void
test_csv_write_error (void **state)
{
    (void) state;
    FILE *file = fopen ("/dev/full", "w");
    if (!file)
        skip ();
    setvbuf (file, NULL, _IONBF, 0);
    const char *fields [] = { "a", "b" };
    assert_int_equal (csv_write (file, fields, 2), -1);
    fclose (file);
}

static void
test_csv_utf8_valid (void **state)
{
    (void) state;
    assert_int_equal (csv_utf8_valid ("abc", 3), 3);
    assert_int_equal (csv_utf8_valid ("Ö€", 5), 5);
    assert_int_equal (csv_utf8_valid ("ab\xc3", 3), 2);
    assert_int_equal (csv_utf8_valid ("a\0b", 3), 1);
    assert_int_equal (csv_utf8_valid ("\xed\xbf\xbf", 3), 0);
    assert_int_equal (csv_utf8_valid ("", 0), 0);
}

//  ----------------------------------------------------------------------
//  mapping

//  Path of a file in the source tree.
static void
s_source_path (char *buf, size_t len, const char *relative)
{
    const char *root = getenv ("RECOUP_SOURCE_DIR");
    assert_non_null (root);
    int n = snprintf (buf, len, "%s/%s", root, relative);
    assert_true (n > 0 && (size_t) n < len);
}

//  Loads a shipped mapping file.
static mapping_t *
s_shipped (const char *name)
{
    char path [1024], relative [256];
    snprintf (relative, sizeof relative, "deploy/mappings/%s", name);
    s_source_path (path, sizeof path, relative);
    char err [512] = "";
    mapping_t *mapping = mapping_load (path, err, sizeof err);
    if (!mapping)
        fail_msg ("%s", err);
    return mapping;
}

//  Writes text to a temporary mapping file; its path into path [64].
static void
s_mapping_file (char *path, const char *text)
{
    strcpy (path, "/tmp/test_csv_XXXXXX");
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    FILE *file = fdopen (fd, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

//  Checks that a mapping file with text fails to load, with "PATH:LINE: "
//  in front of a message holding needle.
#define expect_mapping_error(text, line, needle) \
    s_expect_mapping_error (text, line, needle, __FILE__, __LINE__)

static void
s_expect_mapping_error (const char *text, int line, const char *needle,
                        const char *file, int at)
{
    char path [64];
    s_mapping_file (path, text);
    char err [512] = "";
    mapping_t *mapping = mapping_load (path, err, sizeof err);
    char prefix [128];
    snprintf (prefix, sizeof prefix, "%s:%d: ", path, line);
    unlink (path);
    if (mapping) {
        mapping_destroy (&mapping);
        print_error ("mapping \"%s\" loaded, expected \"%s\"\n", text, needle);
        _fail (file, at);
    }
    if (strncmp (err, prefix, strlen (prefix)) != 0 || !strstr (err, needle)) {
        print_error ("mapping \"%s\" said \"%s\", expected \"%s...%s\"\n",
                     text, err, prefix, needle);
        _fail (file, at);
    }
}

//  Loads a mapping from text; the caller destroys it.
static mapping_t *
s_mapping (const char *text)
{
    char path [64];
    s_mapping_file (path, text);
    char err [512] = "";
    mapping_t *mapping = mapping_load (path, err, sizeof err);
    unlink (path);
    if (!mapping)
        fail_msg ("%s", err);
    return mapping;
}

//  Splits a header line (comma-separated, no quotes) into header [] and
//  returns the count; the cells point into buf.
static size_t
s_split (char *buf, char separator, char **header, size_t max)
{
    size_t count = 0;
    char *p = buf;
    while (count < max) {
        header [count++] = p;
        char *sep = strchr (p, separator);
        if (!sep)
            break;
        *sep = 0;
        p = sep + 1;
    }
    return count;
}

//  The shipped mapping files, each with the header row of a file of the
//  kind it reads, as the tool writes it.
static const struct {
    const char *name;
    const char *kind;
    char separator;
    const char *header;
} s_shipped_files [] = {
    { "quickbooks-online-invoices.map", "invoices", ',',
      "Date,Transaction type,Num,Name,Memo,Due date,Amount,Open balance" },
    { "quickbooks-online-payments.map", "payments", ',',
      "Date,Transaction type,Num,Posting (Y/N),Name,Memo,Account name,"
      "Split,Amount" },
    { "quickbooks-online-customers.map", "customers", ',',
      "Customer,Phone Numbers,Email,Full Name,Billing Address,"
      "Shipping Address" },
    { "xero-invoices.map", "invoices", ',',
      "ContactName,EmailAddress,POAddressLine1,POAddressLine2,"
      "POAddressLine3,POAddressLine4,POCity,PORegion,POPostalCode,POCountry,"
      "SAAddressLine1,SAAddressLine2,SAAddressLine3,SAAddressLine4,SACity,"
      "SARegion,SAPostalCode,SACountry,InvoiceNumber,Reference,InvoiceDate,"
      "DueDate,PlannedDate,Total,TaxTotal,InvoiceAmountPaid,InvoiceAmountDue,"
      "InventoryItemCode,Description,Quantity,UnitAmount,Discount,LineAmount,"
      "AccountCode,TaxType,TaxAmount,TrackingName1,TrackingOption1,"
      "TrackingName2,TrackingOption2,Currency,Type,Sent,Status" },
    { "xero-contacts.map", "customers", ',',
      "*ContactName,AccountNumber,EmailAddress,FirstName,LastName,"
      "POAttentionTo,POAddressLine1,PhoneNumber,FaxNumber,MobileNumber" },
    { "fortnox-invoices.map", "invoices", ';',
      "Fakturanummer;Kundnummer;Kundnamn;Fakturadatum;Förfallodatum;"
      "Total;Valuta;Saldo" },
    { "fortnox-customers.map", "customers", ';',
      "Kundnummer;Namn;Organisationsnummer;E-post;Telefon;Valuta" },
};

#define SHIPPED_COUNT (sizeof s_shipped_files / sizeof *s_shipped_files)

static void
test_mapping_every_shipped_file_loads (void **state)
{
    (void) state;
    char path [1024];
    s_source_path (path, sizeof path, "deploy/mappings");
    DIR *dir = opendir (path);
    assert_non_null (dir);
    size_t loaded = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)) != NULL) {
        size_t len = strlen (entry->d_name);
        if (len < 5 || strcmp (entry->d_name + len - 4, ".map") != 0)
            continue;
        mapping_t *mapping = s_shipped (entry->d_name);
        assert_non_null (mapping_kind (mapping));
        //  Every shipped file is listed below with a header it must read.
        size_t i = 0;
        while (i < SHIPPED_COUNT
               && strcmp (s_shipped_files [i].name, entry->d_name) != 0)
            i++;
        if (i == SHIPPED_COUNT)
            fail_msg ("%s is not in s_shipped_files", entry->d_name);
        mapping_destroy (&mapping);
        loaded++;
    }
    closedir (dir);
    assert_int_equal (loaded, SHIPPED_COUNT);
}

static void
test_mapping_shipped_files_read_their_headers (void **state)
{
    (void) state;
    for (size_t i = 0; i < SHIPPED_COUNT; i++) {
        mapping_t *mapping = s_shipped (s_shipped_files [i].name);
        const char *kind = s_shipped_files [i].kind;
        assert_string_equal (mapping_kind (mapping), kind);
        assert_int_equal (mapping_separator (mapping),
                          s_shipped_files [i].separator);
        char buf [2048];
        snprintf (buf, sizeof buf, "%s", s_shipped_files [i].header);
        char *header [64];
        size_t count = s_split (buf, s_shipped_files [i].separator, header,
                                64);
        const char *const *names = mapping_native_fields (kind);
        int index [16];
        mapping_find_columns (mapping, header, count, names, index);
        int required = mapping_native_required (kind);
        for (int f = 0; f < required; f++)
            if (index [f] < 0)
                fail_msg ("%s: no column for %s (mapped to \"%s\")",
                          s_shipped_files [i].name, names [f],
                          mapping_column_name (mapping, names [f]));
        mapping_destroy (&mapping);
    }
}

static void
test_mapping_defaults (void **state)
{
    (void) state;
    assert_null (mapping_kind (NULL));
    assert_string_equal (mapping_date_format (NULL), "YYYY-MM-DD");
    money_format_t format = mapping_money_format (NULL);
    assert_string_equal (format.decimal_sep, ".");
    assert_string_equal (format.thousands_sep, "");
    assert_null (mapping_currency (NULL));
    assert_int_equal (mapping_skip_rows (NULL), 0);
    assert_int_equal (mapping_separator (NULL), ',');
    assert_int_equal (mapping_encoding (NULL), CSV_ENCODING_UTF8);
    assert_null (mapping_stop_at (NULL));
    assert_int_equal (mapping_line_items (NULL), 0);
    assert_null (mapping_column_name (NULL, "invoice"));

    mapping_t *mapping = s_mapping ("# nothing but a comment\n\n");
    assert_null (mapping_kind (mapping));
    assert_string_equal (mapping_date_format (mapping), "YYYY-MM-DD");
    format = mapping_money_format (mapping);
    assert_string_equal (format.decimal_sep, ".");
    assert_string_equal (format.thousands_sep, "");
    assert_null (mapping_currency (mapping));
    assert_int_equal (mapping_skip_rows (mapping), 0);
    mapping_destroy (&mapping);
    assert_null (mapping);
    mapping_destroy (&mapping);
}

static void
test_mapping_settings (void **state)
{
    (void) state;
    mapping_t *mapping = s_mapping (
        "\xef\xbb\xbf# Example export\r\n"
        "KIND = payments\r\n"
        "  date_format = DD.MM.YYYY   # day first\n"
        "decimal = ,\n"
        "thousands = nbsp\n"
        "currency = EUR\n"
        "skip_rows = 2\n"
        "separator = semicolon\n"
        "encoding = Windows-1252\n"
        "stop_at = \"Summa #1\"\n"
        "line_items = no\n"
        "column reference = \"Ref #\" | Referens\n"
        "Column Customer = Kund\n");
    assert_string_equal (mapping_kind (mapping), "payments");
    assert_string_equal (mapping_date_format (mapping), "DD.MM.YYYY");
    money_format_t format = mapping_money_format (mapping);
    assert_string_equal (format.decimal_sep, ",");
    assert_string_equal (format.thousands_sep, NBSP);
    assert_string_equal (mapping_currency (mapping), "EUR");
    assert_int_equal (mapping_skip_rows (mapping), 2);
    assert_int_equal (mapping_separator (mapping), ';');
    assert_int_equal (mapping_encoding (mapping), CSV_ENCODING_WINDOWS_1252);
    assert_string_equal (mapping_stop_at (mapping), "Summa #1");
    assert_int_equal (mapping_line_items (mapping), 0);
    assert_string_equal (mapping_column_name (mapping, "reference"),
                         "\"Ref #\" | Referens");
    assert_string_equal (mapping_column_name (mapping, "customer"), "Kund");
    assert_null (mapping_column_name (mapping, "amount"));

    char *header [] = { " Referens ", "Ref #", "kund" };
    const char *names [] = { "reference", "customer", "amount", NULL };
    int index [3];
    mapping_find_columns (mapping, header, 3, names, index);
    assert_int_equal (index [0], 1);        //  the first alternative wins
    assert_int_equal (index [1], 2);
    assert_int_equal (index [2], -1);
    mapping_destroy (&mapping);

    mapping = s_mapping ("thousands = space\nseparator = tab\n"
                         "line_items = yes\nencoding = UTF-8\n");
    assert_string_equal (mapping_money_format (mapping).thousands_sep, " ");
    assert_int_equal (mapping_separator (mapping), '\t');
    assert_int_equal (mapping_line_items (mapping), 1);
    assert_int_equal (mapping_encoding (mapping), CSV_ENCODING_UTF8);
    mapping_destroy (&mapping);
}

static void
test_mapping_errors (void **state)
{
    (void) state;
    expect_mapping_error ("kind = invoices\ncolour = red\n", 2,
                          "unknown key \"colour\"");
    expect_mapping_error ("date_format = DD/MM/YY\n", 1, "date_format");
    expect_mapping_error ("date_format = YYYY-MM-DD\ndate_format = M/D/YYYY\n",
                          2, "date_format given twice (first on line 1)");
    expect_mapping_error ("decimal = ,\nthousands = ,\n", 2,
                          "decimal and thousands separators");
    expect_mapping_error ("thousands = ,\n\n\ndecimal = ,\n", 4,
                          "decimal and thousands separators");
    expect_mapping_error ("decimal = none\n", 1,
                          "decimal and thousands separators");
    expect_mapping_error ("decimal = 5\n", 1,
                          "decimal and thousands separators");
    expect_mapping_error ("currency = XYZ\n", 1, "currency \"XYZ\"");
    expect_mapping_error ("currency = usd\n", 1, "currency \"usd\"");
    expect_mapping_error ("currency = USD\ncurrency = EUR\n", 2,
                          "currency given twice (first on line 1)");
    expect_mapping_error ("kind = payments\n\ncolumn due = Due Date\n", 3,
                          "payments have no field \"due\"");
    expect_mapping_error ("column due = Due Date\nkind = customers\n", 1,
                          "customers have no field \"due\"");
    expect_mapping_error ("column colour = Colour\n", 1,
                          "no kind has a field \"colour\"");
    expect_mapping_error ("column amount = Total\ncolumn amount = Sum\n", 2,
                          "column amount given twice (first on line 1)");
    expect_mapping_error ("kind = refunds\n", 1, "kind \"refunds\"");
    expect_mapping_error ("kind = invoices\nkind = invoices\n", 2,
                          "kind given twice");
    expect_mapping_error ("skip_rows = many\n", 1, "skip_rows \"many\"");
    expect_mapping_error ("skip_rows = -1\n", 1, "skip_rows \"-1\"");
    expect_mapping_error ("skip_rows = 1001\n", 1, "skip_rows \"1001\"");
    expect_mapping_error ("separator = ab\n", 1, "separator \"ab\"");
    expect_mapping_error ("separator = \"\"\"\n", 1, "separator");
    expect_mapping_error ("encoding = ebcdic\n", 1, "encoding \"ebcdic\"");
    expect_mapping_error ("line_items = maybe\n", 1, "line_items \"maybe\"");
    expect_mapping_error ("kind invoices\n", 1, "expected \"kind = value\"");
    expect_mapping_error ("kind =\n", 1, "no value");
    expect_mapping_error ("= invoices\n", 1, "expected \"key = value\"");
    expect_mapping_error ("column = Num\n", 1, "expected \"column FIELD");
    expect_mapping_error ("column invoice Num\n", 1, "expected \"column FIELD");
    expect_mapping_error ("column invoice = Num |\n", 1, "empty column name");
    expect_mapping_error ("column invoice = \"Num\n", 1, "not closed");
    expect_mapping_error ("column invoice = Num | \"\"\n", 1,
                          "empty column name");
    expect_mapping_error ("stop_at = \"\"\n", 1, "stop_at: an empty value");
    expect_mapping_error ("column invoice = \"Num\" x\n", 1,
                          "text after a quoted value");
    expect_mapping_error ("# ok\ncolumn invoice = N\xfcm\n", 2, "not UTF-8");

    char err [512] = "";
    assert_null (mapping_load ("/nonexistent/x.map", err, sizeof err));
    assert_string_equal (err, "/nonexistent/x.map: cannot open: "
                         "No such file or directory");
    assert_null (mapping_load ("/nonexistent/x.map", NULL, 0));
}

static void
test_mapping_find_native_columns (void **state)
{
    (void) state;
    //  No mapping: the native names, in any order, any case, blanks and a
    //  byte order mark trimmed, extra columns ignored.
    char *header [] = {
        "\xef\xbb\xbf" "Amount ", "notes", " CUSTOMER", "Invoice", "due",
        NBSP "Issued\t", "customer", NULL
    };
    const char *const *names = mapping_native_fields ("invoices");
    int index [8];
    mapping_find_columns (NULL, header, 8, names, index);
    assert_int_equal (index [0], 2);    //  customer: the first of two
    assert_int_equal (index [1], 3);    //  invoice
    assert_int_equal (index [2], 5);    //  issued
    assert_int_equal (index [3], 4);    //  due
    assert_int_equal (index [4], 0);    //  amount
    assert_int_equal (index [5], -1);   //  currency
    assert_int_equal (index [6], -1);   //  customer_name
    assert_int_equal (index [7], -1);   //  terms

    mapping_find_columns (NULL, NULL, 0, names, index);
    for (int i = 0; i < 8; i++)
        assert_int_equal (index [i], -1);
}

static void
test_mapping_find_mapped_columns (void **state)
{
    (void) state;
    mapping_t *mapping = s_mapping (
        "kind = invoices\n"
        "column due = FÖRFALLODATUM\n"
        "column customer = Kund nr | Kundnummer\n"
        "column amount = Total\n");
    char *header [] = {
        "Kundnummer", "Förfallodatum", "amount", "TOTAL", "Kund nr",
        "Invoice", "issued"
    };
    const char *const *names = mapping_native_fields ("invoices");
    int index [8];
    mapping_find_columns (mapping, header, 7, names, index);
    assert_int_equal (index [0], 4);    //  customer: first alternative
    assert_int_equal (index [1], 5);    //  invoice: not mapped, native name
    assert_int_equal (index [2], 6);    //  issued
    assert_int_equal (index [3], 1);    //  due: Ö folded to ö
    assert_int_equal (index [4], 3);    //  amount: mapped, "amount" ignored
    mapping_destroy (&mapping);
}

static void
test_mapping_is_end (void **state)
{
    (void) state;
    mapping_t *mapping = s_mapping ("stop_at = TOTAL\n");
    char *total [] = { " Total ", "", "$1,234.56" };
    char *row [] = { "1/19/2026", "Invoice", "1001" };
    char *totals_for [] = { "Total for Acme", "" };
    assert_int_equal (mapping_is_end (mapping, total, 3), 1);
    assert_int_equal (mapping_is_end (mapping, row, 3), 0);
    assert_int_equal (mapping_is_end (mapping, totals_for, 2), 0);
    assert_int_equal (mapping_is_end (mapping, total, 0), 0);
    assert_int_equal (mapping_is_end (NULL, total, 3), 0);
    mapping_destroy (&mapping);
}

static void
test_mapping_native_fields (void **state)
{
    (void) state;
    const char *const *fields = mapping_native_fields ("customers");
    assert_string_equal (fields [0], "customer");
    assert_string_equal (fields [1], "name");
    assert_string_equal (fields [10], "collector");
    assert_null (fields [11]);
    assert_int_equal (mapping_native_required ("customers"), 2);
    assert_int_equal (mapping_native_required ("invoices"), 5);
    fields = mapping_native_fields ("payments");
    assert_string_equal (fields [3], "amount");
    assert_string_equal (fields [6], "method");
    assert_null (fields [7]);
    assert_int_equal (mapping_native_required ("payments"), 4);
    assert_null (mapping_native_fields ("refunds"));
    assert_null (mapping_native_fields (NULL));
    assert_int_equal (mapping_native_required ("refunds"), -1);
}

//  Reads an export the way the importer does: the mapping sets up the
//  reader, skip_rows rows go and then blank lines, the header row is
//  matched, then data rows up to the end marker go to row (). Returns how
//  many data rows there were.
typedef void (row_fn) (mapping_t *mapping, char **fields, size_t count,
                       const int *index, size_t row);

static size_t
s_import (mapping_t *mapping, const char *text, row_fn *row)
{
    FILE *file = s_file (text, strlen (text));
    csv_t *csv = csv_new (file);
    assert_non_null (csv);
    mapping_setup_reader (mapping, csv);
    char **fields;
    size_t count;
    char err [256] = "";
    for (int i = 0; i < mapping_skip_rows (mapping); i++)
        assert_int_equal (csv_next (csv, &fields, &count, err, sizeof err), 1);
    do                          //  blank lines before the header go too
        assert_int_equal (csv_next (csv, &fields, &count, err, sizeof err), 1);
    while (count == 1 && fields [0][0] == 0);
    const char *const *names = mapping_native_fields (mapping_kind (mapping));
    int index [16];
    mapping_find_columns (mapping, fields, count, names, index);
    size_t rows = 0;
    int rc;
    while ((rc = csv_next (csv, &fields, &count, err, sizeof err)) == 1) {
        if (count == 1 && fields [0][0] == 0)
            continue;           //  blank line
        if (mapping_is_end (mapping, fields, count))
            break;
        row (mapping, fields, count, index, rows++);
    }
    if (rc < 0)
        fail_msg ("%s", err);
    csv_destroy (&csv);
    fclose (file);
    return rows;
}

//  Parses a date through the mapping's date format.
static int32_t
s_date (mapping_t *mapping, const char *text)
{
    int32_t days = 0;
    char err [256] = "";
    if (date_parse_format (text, mapping_date_format (mapping), &days, err,
                           sizeof err) != 0)
        fail_msg ("date \"%s\": %s", text, err);
    return days;
}

//  Parses an amount through the mapping's money format.
static int64_t
s_amount (mapping_t *mapping, const char *text, const char *currency)
{
    int64_t minor = 0;
    char err [256] = "";
    money_format_t format = mapping_money_format (mapping);
    if (money_parse (text, currency, &format, &minor, err, sizeof err) != 0)
        fail_msg ("amount \"%s\": %s", text, err);
    return minor;
}

static int32_t
s_days (int year, int month, int day)
{
    int32_t days;
    assert_int_equal (date_from_ymd (year, month, day, &days), 0);
    return days;
}

static void
s_us_row (mapping_t *mapping, char **fields, size_t count, const int *index,
          size_t row)
{
    //  index: customer, invoice, issued, due, amount, currency,
    //  customer_name, terms
    for (int i = 0; i < 5; i++)
        assert_true (index [i] >= 0 && (size_t) index [i] < count);
    int32_t issued = s_date (mapping, fields [index [2]]);
    int32_t due = s_date (mapping, fields [index [3]]);
    int64_t amount = s_amount (mapping, fields [index [4]],
                               mapping_currency (mapping));
    if (row == 0) {
        assert_string_equal (fields [index [0]], "Smith, John");
        assert_string_equal (fields [index [1]], "1001");
        assert_int_equal (issued, s_days (2026, 1, 19));
        assert_int_equal (due, s_days (2026, 2, 18));
        assert_int_equal (amount, 123456);
    }
    else {
        assert_string_equal (fields [index [1]], "1002");
        assert_int_equal (issued, s_days (2026, 12, 1));
        assert_int_equal (due, s_days (2026, 12, 31));
        assert_int_equal (amount, 1234567890);
    }
}

static void
test_mapping_us_export_end_to_end (void **state)
{
    (void) state;
    mapping_t *mapping = s_shipped ("quickbooks-online-invoices.map");
    assert_string_equal (mapping_currency (mapping), "USD");
    //  The shape QuickBooks Online writes: title lines padded with commas,
    //  an empty line, the header, rows, TOTAL, empty lines, a time stamp.
    const char *text =
        "Fictional Photography Co,,,,,,,\r\n"
        "Invoice List by Date,,,,,,,\r\n"
        "\"January 1-December 31, 2026\",,,,,,,\r\n"
        "\r\n"
        "Date,Transaction type,Num,Name,Memo,Due date,Amount,Open balance\r\n"
        "1/19/2026,Invoice,1001,\"Smith, John\",,2/18/2026,\"1,234.56\","
        "\"1,234.56\"\r\n"
        "12/01/2026,Invoice,1002,Acme,\"Memo, with \"\"quotes\"\"\",12/31/2026,"
        "\"12,345,678.90\",0.00\r\n"
        "TOTAL,,,,,,\"$12,346,913.46\",\"$1,234.56\"\r\n"
        "\r\n\r\n\r\n"
        "\" Tuesday, September 29, 2026 09:30 PM GMT-04:00\",,,,,,,\r\n";
    assert_int_equal (s_import (mapping, text, s_us_row), 2);
    mapping_destroy (&mapping);
}

static void
s_swedish_row (mapping_t *mapping, char **fields, size_t count,
               const int *index, size_t row)
{
    (void) row;
    for (int i = 0; i < 6; i++)
        assert_true (index [i] >= 0 && (size_t) index [i] < count);
    const char *currency = fields [index [5]][0] ? fields [index [5]]
                                                 : mapping_currency (mapping);
    int32_t issued = s_date (mapping, fields [index [2]]);
    int32_t due = s_date (mapping, fields [index [3]]);
    int64_t amount = s_amount (mapping, fields [index [4]], currency);
    assert_string_equal (fields [index [0]], "1001");
    assert_string_equal (fields [index [6]], "Åkesson & Söner AB");
    assert_int_equal (issued, s_days (2026, 3, 31));
    assert_int_equal (due, s_days (2026, 4, 30));
    assert_int_equal (amount, 123456);
    assert_string_equal (currency, "SEK");
}

static void
test_mapping_swedish_export_end_to_end (void **state)
{
    (void) state;
    mapping_t *mapping = s_shipped ("fortnox-invoices.map");
    //  Semicolons, a no-break space between thousands, decimal comma, and
    //  a header in another order and case than the mapping writes it.
    const char *text =
        "Fakturanr;KUNDNR;Kundnamn;Fakturadatum;Förfallodatum;Totalt;Valuta\n"
        "5001;1001;Åkesson & Söner AB;2026-03-31;2026-04-30;1" NBSP "234,56;"
        "SEK\n"
        "5002;1001;Åkesson & Söner AB;2026-03-31;2026-04-30;\"1 234,56\";\n";
    assert_int_equal (s_import (mapping, text, s_swedish_row), 2);
    mapping_destroy (&mapping);
}

static void
s_dotted_row (mapping_t *mapping, char **fields, size_t count,
              const int *index, size_t row)
{
    (void) count;
    (void) row;
    int32_t received = s_date (mapping, fields [index [2]]);
    int64_t amount = s_amount (mapping, fields [index [3]],
                               mapping_currency (mapping));
    assert_string_equal (fields [index [1]], "OCR 4711");
    assert_int_equal (received, s_days (2026, 1, 5));
    assert_int_equal (amount, -123456);
}

static void
test_mapping_dotted_dates_end_to_end (void **state)
{
    (void) state;
    mapping_t *mapping = s_mapping (
        "kind = payments\n"
        "separator = ;\n"
        "encoding = windows-1252\n"
        "date_format = DD.MM.YYYY\n"
        "decimal = ,\n"
        "thousands = space\n"
        "currency = SEK\n"
        "skip_rows = 1\n"
        "column customer = Kund\n"
        "column reference = Referens\n"
        "column received = Betaldatum\n"
        "column amount = Belopp\n");
    const char *text =
        "Inbetalningar 2026\n"
        "Kund;Referens;Betaldatum;Belopp\n"
        "K\xf6pmannen;OCR 4711;05.01.2026;-1\xa0" "234,56\n";
    assert_int_equal (s_import (mapping, text, s_dotted_row), 1);
    mapping_destroy (&mapping);
}

static void
s_customer_row (mapping_t *mapping, char **fields, size_t count,
                const int *index, size_t row)
{
    (void) mapping;
    (void) count;
    (void) row;
    //  index: customer, name, email, phone, ...
    assert_string_equal (fields [index [0]], "Smith, John");
    assert_string_equal (fields [index [1]], "Smith, John");
    assert_string_equal (fields [index [2]], "john@smith.example");
    assert_string_equal (fields [index [3]], "555-0100");
}

static void
test_mapping_quickbooks_title_lines (void **state)
{
    (void) state;
    //  Customer Contact List exports come with two title lines or three:
    //  skip_rows and the blank lines before the header read both.
    mapping_t *mapping = s_shipped ("quickbooks-online-customers.map");
    const char *rows =
        "Customer,Phone Numbers,Email,Full Name,Billing Address\r\n"
        "\"Smith, John\",555-0100,john@smith.example,John Smith,"
        "\"1 Main St\nSpringfield\"\r\n";
    char text [512];
    snprintf (text, sizeof text, "\"Example Co, LLC\",,,,\r\n"
              "Customer Contact List,,,,\r\n\r\n%s", rows);
    assert_int_equal (s_import (mapping, text, s_customer_row), 1);
    snprintf (text, sizeof text, "\"Example Co, LLC\",,,,\r\n"
              "Customer Contact List,,,,\r\n"
              "\"As of October 1, 2026\",,,,\r\n\r\n%s", rows);
    assert_int_equal (s_import (mapping, text, s_customer_row), 1);
    mapping_destroy (&mapping);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_csv_plain_records),
        cmocka_unit_test (test_csv_quoted_fields),
        cmocka_unit_test (test_csv_embedded_newlines),
        cmocka_unit_test (test_csv_line_ends),
        cmocka_unit_test (test_csv_byte_order_mark),
        cmocka_unit_test (test_csv_last_record_without_line_end),
        cmocka_unit_test (test_csv_empty_fields),
        cmocka_unit_test (test_csv_blank_lines),
        cmocka_unit_test (test_csv_empty_file),
        cmocka_unit_test (test_csv_valid_utf8),
        cmocka_unit_test (test_csv_invalid_utf8),
        cmocka_unit_test (test_csv_nul_byte),
        cmocka_unit_test (test_csv_utf16_file),
        cmocka_unit_test (test_csv_quote_inside_unquoted_field),
        cmocka_unit_test (test_csv_text_after_closing_quote),
        cmocka_unit_test (test_csv_lone_carriage_return),
        cmocka_unit_test (test_csv_unterminated_quote),
        cmocka_unit_test (test_csv_record_too_big),
        cmocka_unit_test (test_csv_too_many_fields),
        cmocka_unit_test (test_csv_line_after_multiline_records),
        cmocka_unit_test (test_csv_offset),
        cmocka_unit_test (test_csv_separator),
        cmocka_unit_test (test_csv_windows_1252),
        cmocka_unit_test (test_csv_buffer_boundaries),
        cmocka_unit_test (test_csv_error_buffer_optional),
        cmocka_unit_test (test_csv_read_error),
        cmocka_unit_test (test_csv_write_quotes_only_where_needed),
        cmocka_unit_test (test_csv_write_round_trips),
        cmocka_unit_test (test_csv_write_error),
        cmocka_unit_test (test_csv_utf8_valid),
        cmocka_unit_test (test_mapping_every_shipped_file_loads),
        cmocka_unit_test (test_mapping_shipped_files_read_their_headers),
        cmocka_unit_test (test_mapping_defaults),
        cmocka_unit_test (test_mapping_settings),
        cmocka_unit_test (test_mapping_errors),
        cmocka_unit_test (test_mapping_find_native_columns),
        cmocka_unit_test (test_mapping_find_mapped_columns),
        cmocka_unit_test (test_mapping_is_end),
        cmocka_unit_test (test_mapping_native_fields),
        cmocka_unit_test (test_mapping_us_export_end_to_end),
        cmocka_unit_test (test_mapping_swedish_export_end_to_end),
        cmocka_unit_test (test_mapping_dotted_dates_end_to_end),
        cmocka_unit_test (test_mapping_quickbooks_title_lines),
    };
    return cmocka_run_group_tests_name ("csv", tests, NULL, NULL);
}
