/*  job: a request in flight. See job.h.                                 */
#include "job.h"

#include <sodium.h>
#include <stdlib.h>

void
job_hash (job_t *self, const void *data, size_t len)
{
    crypto_generichash (self->hash, sizeof self->hash, data, len, NULL, 0);
}

void
job_destroy (job_t **self_p)
{
    job_t *self = *self_p;
    if (!self)
        return;
    zmq_msg_close (&self->routing);
    if (self->request)
        recoup__request__free_unpacked (self->request, NULL);
    free (self->reply);
    free (self);
    *self_p = NULL;
}

void
job_set_reply (job_t *self, Recoup__Reply *reply)
{
    reply->protocol_version = PROTOCOL_VERSION;
    //  Echo the id, unless it is not even UTF-8 (strict protobuf libraries
    //  would refuse the whole reply).
    if (self->request && self->request->request_id
        && wire_utf8_valid (self->request->request_id, NULL))
        reply->request_id = self->request->request_id;
    free (self->reply);
    self->reply = wire_pack (&reply->base, &self->reply_len);
    if (!self->reply)
        abort ();
}

void
job_set_error (job_t *self, Recoup__ErrorCode code, const char *field,
               const char *message)
{
    Recoup__Error error = RECOUP__ERROR__INIT;
    error.code = code;
    error.field = (char *) (field ? field : "");
    error.message = (char *) message;
    Recoup__Reply reply = RECOUP__REPLY__INIT;
    reply.result_case = RECOUP__REPLY__RESULT_ERROR;
    reply.error = &error;
    self->store = 0;
    job_set_reply (self, &reply);
}
