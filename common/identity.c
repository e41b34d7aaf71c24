/*  identity: key files for users and the server. See identity.h.        */
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

int
identity_key_valid (const char *key)
{
    if (!key || strlen (key) != IDENTITY_KEY_LEN)
        return 0;
    uint8_t raw [32];
    int ok = zmq_z85_decode (raw, key) != NULL;
    sodium_memzero (raw, sizeof raw);
    return ok;
}

//  Trims leading and trailing blanks in place; returns the start.
static char *
s_trim (char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen (s);
    while (n > 0 && (s [n - 1] == ' ' || s [n - 1] == '\t'
                     || s [n - 1] == '\n' || s [n - 1] == '\r'))
        s [--n] = 0;
    return s;
}

//  Copies value into a fixed field, failing when it does not fit.
static int
s_set (char *field, size_t size, const char *value)
{
    if (strlen (value) >= size)
        return -1;
    strcpy (field, value);
    return 0;
}

int
identity_load (identity_t *self, const char *path, int mode,
               char *err, size_t errlen)
{
    memset (self, 0, sizeof *self);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf (err, errlen, "cannot open identity file %s: %s", path,
                  strerror (errno));
        return -1;
    }
    struct stat st;
    mode_t file_mode = fstat (fd, &st) == 0 ? st.st_mode & 0777 : 0;
    FILE *file = fdopen (fd, "r");
    if (!file) {
        close (fd);
        snprintf (err, errlen, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    char line [1024];
    int lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets (line, sizeof line, file)) {
        lineno++;
        char *text = s_trim (line);
        if (*text == 0 || *text == '#')
            continue;
        char *eq = strchr (text, '=');
        if (!eq) {
            snprintf (err, errlen, "%s:%d: expected `key = value`", path,
                      lineno);
            rc = -1;
            break;
        }
        *eq = 0;
        char *key = s_trim (text);
        char *value = s_trim (eq + 1);
        int bad = 0;
        if (strcmp (key, "user") == 0)
            bad = s_set (self->user, sizeof self->user, value);
        else if (strcmp (key, "commands") == 0)
            bad = s_set (self->commands, sizeof self->commands, value);
        else if (strcmp (key, "events") == 0)
            bad = s_set (self->events, sizeof self->events, value);
        else if (strcmp (key, "server_public_key") == 0)
            bad = s_set (self->server_public, sizeof self->server_public, value)
                  || !identity_key_valid (value);
        else if (strcmp (key, "public_key") == 0)
            bad = s_set (self->public_key, sizeof self->public_key, value)
                  || !identity_key_valid (value);
        else if (strcmp (key, "secret_key") == 0)
            bad = s_set (self->secret_key, sizeof self->secret_key, value)
                  || !identity_key_valid (value);
        else {
            snprintf (err, errlen, "%s:%d: unknown key '%s'", path, lineno,
                      key);
            rc = -1;
            break;
        }
        if (bad) {
            snprintf (err, errlen, "%s:%d: invalid value for '%s'", path,
                      lineno, key);
            rc = -1;
        }
    }
    sodium_memzero (line, sizeof line);
    fclose (file);
    if (rc == 0 && *self->secret_key && (file_mode & 077) != 0) {
        snprintf (err, errlen,
                  "identity file %s is readable by others (mode %03o); "
                  "it holds a secret key: chmod 600 %s",
                  path, (unsigned) file_mode, path);
        rc = -1;
    }
    if (rc == 0) {
        const char *missing = NULL;
        int keypair = mode != IDENTITY_SERVER || *self->public_key || *self->secret_key;
        int server = mode != IDENTITY_KEYS;
        if (keypair && !*self->public_key)
            missing = "public_key";
        else if (keypair && !*self->secret_key)
            missing = "secret_key";
        else if (server && !*self->server_public)
            missing = "server_public_key";
        else if (server && !*self->commands)
            missing = "commands";
        else if (server && !*self->events)
            missing = "events";
        if (missing) {
            snprintf (err, errlen, "%s: missing '%s'", path, missing);
            rc = -1;
        }
    }
    if (rc == 0 && *self->secret_key) {
        //  The public key must belong to the secret key.
        uint8_t secret [32], public [32], derived [32];
        char z85 [IDENTITY_KEY_LEN + 1];
        zmq_z85_decode (secret, self->secret_key);
        crypto_scalarmult_base (derived, secret);
        zmq_z85_encode (z85, derived, 32);
        if (strcmp (z85, self->public_key) != 0) {
            snprintf (err, errlen, "%s: public_key does not match secret_key",
                      path);
            rc = -1;
        }
        sodium_memzero (secret, sizeof secret);
        (void) public;
    }
    if (rc != 0)
        identity_wipe (self);
    return rc;
}

int
identity_save (const identity_t *self, const char *path, int mode,
               int exclusive, char *err, size_t errlen)
{
    if (exclusive && access (path, F_OK) == 0) {
        snprintf (err, errlen, "%s already exists; not replacing it", path);
        return -1;
    }
    char temp [4096];
    if (snprintf (temp, sizeof temp, "%s.tmp.%d", path, (int) getpid ())
        >= (int) sizeof temp) {
        snprintf (err, errlen, "path too long: %s", path);
        return -1;
    }
    mode_t file_mode = mode == IDENTITY_SERVER ? 0644 : 0600;
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (err, errlen, "cannot create %s: %s", temp, strerror (errno));
        return -1;
    }
    fchmod (fd, file_mode);
    char text [2048];
    int len;
    if (mode == IDENTITY_SERVER)
        len = snprintf (text, sizeof text,
                        "# recoup server details (no secrets): make your own "
                        "identity with\n#   recoup keygen --out FILE "
                        "--server-from THIS-FILE\n"
                        "commands = %s\nevents = %s\nserver_public_key = %s\n",
                        self->commands, self->events, self->server_public);
    else if (mode == IDENTITY_KEYS)
        len = snprintf (text, sizeof text,
                        "# recoup key file: keep secret\n"
                        "public_key = %s\nsecret_key = %s\n",
                        self->public_key, self->secret_key);
    else
        len = snprintf (text, sizeof text,
                        "# recoup identity: keep this file secret, it holds "
                        "your private key\n"
                        "user = %s\ncommands = %s\nevents = %s\n"
                        "server_public_key = %s\n"
                        "public_key = %s\nsecret_key = %s\n",
                        self->user, self->commands, self->events,
                        self->server_public, self->public_key,
                        self->secret_key);
    int rc = 0;
    if (write (fd, text, (size_t) len) != len || fsync (fd) != 0) {
        snprintf (err, errlen, "cannot write %s: %s", temp, strerror (errno));
        rc = -1;
    }
    sodium_memzero (text, sizeof text);
    if (close (fd) != 0 && rc == 0) {
        snprintf (err, errlen, "cannot write %s: %s", temp, strerror (errno));
        rc = -1;
    }
    if (rc == 0 && rename (temp, path) != 0) {
        snprintf (err, errlen, "cannot rename %s to %s: %s", temp, path,
                  strerror (errno));
        rc = -1;
    }
    if (rc != 0)
        unlink (temp);
    return rc;
}

int
identity_generate (identity_t *self)
{
    return zmq_curve_keypair (self->public_key, self->secret_key) == 0 ? 0 : -1;
}

void
identity_wipe (identity_t *self)
{
    sodium_memzero (self, sizeof *self);
}

const char *
identity_default_path (char *buf, size_t len)
{
    const char *env = getenv ("RECOUP_IDENTITY");
    if (env && *env) {
        snprintf (buf, len, "%s", env);
        return buf;
    }
    const char *home = getenv ("HOME");
    snprintf (buf, len, "%s/.config/recoup/identity", home ? home : ".");
    return buf;
}
