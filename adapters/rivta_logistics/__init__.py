"""Shared core of the RIVTA clinicalprocess:logistics:logistics 3 contracts.

GetCarePlans 2.0 and GetCareContacts 3.0 share the header (PatientSummaryHeaderType), the
result and the data types of namespace urn:riv:clinicalprocess:logistics:logistics:3; this
package reads and translates those once for both adapters.
"""
