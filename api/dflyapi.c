/* libdflyapi: the REST client. */
#include "dflyapi.h"
