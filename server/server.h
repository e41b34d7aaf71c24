/*  server: recoupd's start-up, main loop and shutdown. The main thread
    owns the ROUTER (commands), the PUB (events), the ZAP handler and the
    writer's database connection; read-only commands go to the reader
    thread.                                                              */
#ifndef RECOUP_SERVER_H
#define RECOUP_SERVER_H

typedef struct {
    const char *datadir;        //  --data: keys, identities, embedded db
    const char *db_conninfo;    //  --db, or NULL for the embedded cluster
    const char *db_user;        //  --db-user: who runs the embedded db as root
    const char *commands;       //  --commands endpoint
    const char *events;         //  --events endpoint
} server_config_t;

//  Runs until SIGINT or SIGTERM. Returns the process exit status.
int server_run (const server_config_t *config);

#endif
