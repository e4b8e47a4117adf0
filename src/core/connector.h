/* The connector handle's insides. */
#ifndef PW_CORE_CONNECTOR_H
#define PW_CORE_CONNECTOR_H

#include "pipewright/sys/connector.h"

#define PW__STR2(x) #x
#define PW__STR(x) PW__STR2(x)

struct pw_connector {
	const pw_connector_ops *ops;
	char *name;
	char *type;
	void *impl;
	pw_manager *manager; /* set by the manager that cached it */
};

#endif
