// A stand-in for amazon-connect-streams' `connect` global, as much of it as
// the collector uses: connect.contact(cb) with Contact.onEnded(cb)
// (Documentation.md, "connect.contact()", "contact.onEnded()"), and
// connect.getLog() returning a logger whose entries have the shape of
// src/log.js's LogEntry (same properties, same order: component, level,
// text, time, tabId, exception, objects, line, agentResourceId, loggerId,
// contextLayer), kept in _rolledLogs (before the last log roll) and _logs.
(function () {
  'use strict';
  var loggerId = 'test-logger';
  var line = 0;
  // Log times advance one second per entry from a fixed start, so the log
  // reads like a real session's whatever the test's speed.
  var clock = Date.parse('2026-03-02T09:00:00.000Z');

  function LogEntry(component, level, text) {
    this.component = component;
    this.level = level;
    this.text = text;
    this.time = new Date((clock += 1000));
    this.tabId = 'tab-1';
    this.exception = null;
    this.objects = [];
    this.line = line++;
    this.agentResourceId = null;
    this.loggerId = loggerId;
    this.contextLayer = 'CCP';
  }

  var logger = {
    _logs: [],
    _rolledLogs: [],
    _logLevel: 30,
    write: function (component, level, text) {
      var e = new LogEntry(component, level, text);
      this._logs.push(e);
      return e;
    },
    download: function () {
      throw new Error('the collector must not call download() (it would save a file on the agent\'s machine)');
    },
  };

  var contactSubscribers = [];
  var contacts = {};

  function Contact(id) {
    this.contactId = id;
    this._ended = [];
  }
  Contact.prototype.getContactId = function () {
    return this.contactId;
  };
  Contact.prototype.onEnded = function (cb) {
    this._ended.push(cb);
  };

  window.connect = {
    contact: function (cb) {
      contactSubscribers.push(cb);
    },
    getLog: function () {
      return logger;
    },
  };

  // The test's controls: a call that the agent hangs up, in the SIGNALING
  // lines the classifier reads (the Knowledge Center's agent-side pair).
  window.ccpStub = {
    logger: logger,
    startContact: function (id) {
      var c = new Contact(id);
      contacts[id] = c;
      contactSubscribers.forEach(function (cb) {
        cb(c);
      });
      [
        ['null', 'PendingConnectState'],
        ['PendingConnectState', 'PendingInviteState'],
        ['PendingInviteState', 'PendingAnswerState'],
        ['PendingAnswerState', 'PendingAcceptState'],
        ['PendingAcceptState', 'TalkingState'],
      ].forEach(function (s) {
        logger.write('softphone', 'INFO', ' ' + id + ' SIGNALING ' + s[0] + ' => ' + s[1]);
      });
      logger.write('ccp', 'INFO', 'a CCP line with a DEBUG sibling');
      logger.write('ccp', 'DEBUG', 'a debug line');
    },
    endContact: function (id) {
      var c = contacts[id];
      logger.write('softphone', 'INFO', ' ' + id + ' SIGNALING TalkingState => PendingRemoteHangupState');
      logger.write('softphone', 'INFO', ' ' + id + ' SIGNALING PendingRemoteHangupState => DisconnectedState');
      c._ended.forEach(function (cb) {
        cb(c);
      });
    },
    call: function (id) {
      this.startContact(id);
      this.endContact(id);
    },
    roll: function () {
      logger._rolledLogs = logger._logs;
      logger._logs = [];
      logger.write('ccp', 'INFO', 'Log roll interval occurred.');
    },
    /** What "Download logs" would write now (src/log.js Logger.prototype.download). */
    downloadText: function () {
      return JSON.stringify(logger._rolledLogs.concat(logger._logs), undefined, 4);
    },
  };
})();
