-- A table over the contact record stream as Kinesis Data Firehose writes it
-- to S3 (Athena DDL). Replace the location and ccp_disconnect.
--
-- The JSON SerDe reads one record per line: configure the delivery stream to
-- append a new-line delimiter to each record (Firehose processing option
-- "AppendDelimiterToRecord"); without it the records of one object are
-- concatenated and only the first per line is read. The SerDe matches
-- column names case-insensitively, so ContactId is read as contactid.
-- Firehose's default gzip compression is read transparently.
CREATE EXTERNAL TABLE IF NOT EXISTS ccp_disconnect.contact_records (
    contactid string,
    initialcontactid string,
    previouscontactid string,
    nextcontactid string,
    channel string,
    initiationmethod string,
    initiationtimestamp string,
    disconnecttimestamp string,
    lastupdatetimestamp string,
    disconnectreason string,
    agent struct<arn:string,username:string>,
    queue struct<arn:string,name:string>,
    disconnectdetails struct<potentialdisconnectissue:string>,
    qualitymetrics struct<agent:struct<audio:struct<qualityscore:double,potentialqualityissues:array<string>>>>
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
LOCATION 's3://YOUR-BUCKET/YOUR-FIREHOSE-PREFIX/';
