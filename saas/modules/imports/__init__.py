"""Imports of CSV and XLSX files into any CRM object."""
