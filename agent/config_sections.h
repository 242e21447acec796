#ifndef PGWARDEN_AGENT_CONFIG_SECTIONS_H_
#define PGWARDEN_AGENT_CONFIG_SECTIONS_H_

#include <string>

#include "agent/config.h"
#include "core/config_node.h"

// The parsers of the config file's top-level settings and of its smaller
// sections, each reporting errors on the node it reads (agent/config.cc
// reads the targets, detectors and action sections and calls these).
namespace pgwarden::config_sections {

// ValidName: 1-63 characters of letters, digits, '_', '-' or '.'.
bool ValidName(const std::string& s);
// ParseGlobals reads the top-level scalar settings into *cfg.
void ParseGlobals(const ConfigNode& top, AgentConfig* cfg);
// ParseMetrics reads `metrics.per_table`.
void ParseMetrics(const ConfigNode& top, PerTableMetrics* out);
// ParseWeb reads `web`: the HTTP endpoint's connection limits and timeouts,
// and enable_lifecycle.
void ParseWeb(const ConfigNode& top, AgentConfig* cfg);
// ParseIncidents reads the `incidents:` section.
void ParseIncidents(const ConfigNode& top, AgentConfig* cfg);
// ParseBackup reads the `backup:` section.
void ParseBackup(const ConfigNode& top, AgentConfig* cfg);
// ParseJournal reads the `journal:` and `restore:` sections.
void ParseJournal(const ConfigNode& top, AgentConfig* cfg);

}  // namespace pgwarden::config_sections

#endif  // PGWARDEN_AGENT_CONFIG_SECTIONS_H_
