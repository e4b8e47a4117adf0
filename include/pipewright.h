/* libpipewright: run CI/CD steps through pluggable connectors. Include this for the whole
 * embedder API; connector and plug-in authors also include <pipewright/sys/connector.h>. */
#ifndef PIPEWRIGHT_H
#define PIPEWRIGHT_H

#include "pipewright/common.h"
#include "pipewright/connector.h"
#include "pipewright/error.h"
#include "pipewright/exec.h"
#include "pipewright/log.h"
#include "pipewright/manager.h"
#include "pipewright/map.h"
#include "pipewright/pipeline.h"
#include "pipewright/result.h"
#include "pipewright/run.h"
#include "pipewright/secrets.h"
#include "pipewright/step.h"

#endif
