#include "agent/msg.h"

const char *ag_msg_type_name(uint8_t type)
{
	switch (type) {
	case AG_MSG_HELLO: return "hello";
	case AG_MSG_HELLO_ACK: return "hello_ack";
	case AG_MSG_HEARTBEAT: return "heartbeat";
	case AG_MSG_TELEMETRY: return "telemetry";
	case AG_MSG_OTA_OFFER: return "ota_offer";
	case AG_MSG_OTA_ACK: return "ota_ack";
	case AG_MSG_OTA_CHUNK: return "ota_chunk";
	case AG_MSG_OTA_ABORT: return "ota_abort";
	case AG_MSG_OTA_FINISH: return "ota_finish";
	case AG_MSG_ACTIVATE: return "activate";
	case AG_MSG_REBOOT: return "reboot";
	case AG_MSG_CONFIRM: return "confirm";
	case AG_MSG_ERROR: return "error";
	}
	return "unknown";
}
