"""The console: server-rendered pages in Simplified Chinese for officials, school staff and families.

It owns no data. Officials' pages call the archive's API with the official's own token; school
staff's acts go to intake with an identity assertion the archive signs; families' pages call
intake's public help-request API. One site, one login, every asset served from here.
"""
